import { and, eq, lt, or, sql } from "drizzle-orm";
import { ormOf } from "./orm.ts";
import { leases } from "./schema.ts";
import type { SqlDb } from "./sql.ts";

export interface LeaseHolder {
  holder: string;
  expiresAt: number;
  grantedAt: number;
}

/**
 * A named lease in the control plane: one holder at a time, until it stops renewing and the lease
 * expires. Taking and renewing is one conditional write (taken when free, expired, or already this
 * holder's), so two gateways never both hold it, whatever their timing. Expiry is read against the
 * writer's clock: gateways' clocks must agree to well within the lease time.
 */
export class Lease {
  constructor(
    private readonly db: SqlDb,
    readonly name: string,
    /** Who this process is (host, pid, start): never the same for two processes. */
    readonly holder: string,
    readonly ttlMs: number,
    /** Whether a holder this process can see is dead (a process on this host that is gone): taken at once. */
    private readonly isDead: (holder: string) => boolean = () => false,
  ) {}

  /** Takes or renews the lease; true when this holder holds it now (until `ttlMs` from now). */
  async acquire(now = Date.now()): Promise<boolean> {
    const expiresAt = now + this.ttlMs;
    const orm = ormOf(this.db);
    const written = await orm
      .insert(leases)
      .values({ name: this.name, holder: this.holder, expiresAt, grantedAt: now })
      .onConflictDoUpdate({
        target: leases.name,
        set: { holder: this.holder, expiresAt, grantedAt: sql`CASE WHEN ${leases.holder} = ${this.holder} THEN ${leases.grantedAt} ELSE ${now} END` },
        setWhere: or(eq(leases.holder, this.holder), lt(leases.expiresAt, now)),
      })
      .returning({ holder: leases.holder })
      .get();
    if (written?.holder === this.holder) return true;
    // Held by a process this host can see is gone: it will never release or renew.
    const current = await this.current();
    if (!current || !this.isDead(current.holder)) return false;
    const taken = await orm
      .update(leases)
      .set({ holder: this.holder, expiresAt, grantedAt: now })
      .where(and(eq(leases.name, this.name), eq(leases.holder, current.holder)))
      .returning({ holder: leases.holder })
      .get();
    return taken?.holder === this.holder;
  }

  /** Gives the lease up, if this holder has it, so another may take it at once. */
  async release(): Promise<void> {
    await ormOf(this.db)
      .delete(leases)
      .where(and(eq(leases.name, this.name), eq(leases.holder, this.holder)))
      .run();
  }

  /** Who holds it and until when; undefined when no one ever took it (or it was released). */
  async current(): Promise<LeaseHolder | undefined> {
    const row = await ormOf(this.db).select({ holder: leases.holder, expiresAt: leases.expiresAt, grantedAt: leases.grantedAt }).from(leases).where(eq(leases.name, this.name)).get();
    return row ?? undefined;
  }
}
