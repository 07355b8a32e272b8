import { eq } from "drizzle-orm";
import { ormOf, syncState, type Orm, type SqlDb } from "../storage/index.ts";
import { TenantSync } from "./tenant-sync.ts";

/**
 * What the relay knows of every tenant's sync, mirrored on the control plane
 * (`tenantgate_sync_state`) so that a start reads one table instead of every tenant file. The tenant
 * file's own cursor is the truth; the mirror may trail it.
 */
export class SyncStates {
  private readonly tenants = new Map<string, TenantSync>();
  private readonly orm: Orm;

  constructor(private readonly db: SqlDb) {
    this.orm = ormOf(db);
  }

  /**
   * Reads the mirror: every cursor in it is remembered, not yet checked against its file; or, with
   * `asWritten`, taken as the gateway that runs the relay wrote it after checking (what another
   * gateway reports, which does not run it).
   */
  async load(opts: { asWritten?: boolean } = {}): Promise<void> {
    for (const row of await this.orm.select().from(syncState).all()) {
      const { cursor, attempts, lastError, lastErrorAt, nextAttemptAt, conflicts, identity } = row;
      const s = TenantSync.remembered({ cursor, attempts, lastError, lastErrorAt, nextAttemptAt, conflicts, identity });
      if (opts.asWritten) Object.assign(s, { verified: true, dirty: false });
      this.tenants.set(row.tenantId, s);
    }
  }

  /** The tenant's state; one with nothing known yet for a tenant never seen. */
  of(tenantId: string): TenantSync {
    let s = this.tenants.get(tenantId);
    if (!s) {
      s = new TenantSync();
      this.tenants.set(tenantId, s);
    }
    return s;
  }

  /** A tenant file seeded at `cursor`: its state, mirrored at the next `persist`. */
  seeded(tenantId: string, cursor: number): void {
    this.tenants.set(tenantId, TenantSync.seeded(cursor));
  }

  entries(): IterableIterator<[string, TenantSync]> {
    return this.tenants.entries();
  }

  /** When the soonest backing-off tenant is due again; undefined when none is backing off. */
  nextAttempt(): number | undefined {
    const next = Math.min(...[...this.tenants.values()].map((s) => s.nextAttemptAt ?? Number.POSITIVE_INFINITY));
    return Number.isFinite(next) ? next : undefined;
  }

  /** The tenant's file was replaced: what was known of its cursor goes, from the mirror too. */
  async forget(tenantId: string): Promise<void> {
    this.tenants.get(tenantId)?.forgotten();
    await this.orm.delete(syncState).where(eq(syncState.tenantId, tenantId)).run();
  }

  /** Tenants that no longer exist leave the mirror (and what is known of them). */
  async prune(existing: ReadonlySet<string>): Promise<void> {
    for (const row of await this.orm.select({ tenantId: syncState.tenantId }).from(syncState).all()) {
      if (existing.has(row.tenantId)) continue;
      await this.orm.delete(syncState).where(eq(syncState.tenantId, row.tenantId)).run();
      this.tenants.delete(row.tenantId);
    }
  }

  /** Writes the states changed since the last call to the mirror, in one transaction. */
  async persist(): Promise<void> {
    const changed = [...this.tenants].filter(([, s]) => s.dirty);
    if (changed.length === 0) return;
    const now = new Date().toISOString();
    // Marked clean as each is written: a state that changes while the transaction is open is dirty
    // again and goes in the next call, and so does every one when the transaction fails.
    await this.db.transaction(async (tx) => {
      const orm = ormOf(tx);
      for (const [tenantId, s] of changed) {
        const values = {
          cursor: s.cursor ?? 0,
          attempts: s.attempts,
          lastError: s.lastError,
          lastErrorAt: s.lastErrorAt,
          nextAttemptAt: s.nextAttemptAt,
          conflicts: s.conflicts,
          identity: s.identity ?? null,
          updatedAt: now,
        };
        s.dirty = false;
        await orm.insert(syncState).values({ tenantId, ...values }).onConflictDoUpdate({ target: syncState.tenantId, set: values }).run();
      }
    }).catch((err: unknown) => {
      for (const [, s] of changed) s.dirty = true;
      throw err;
    });
  }
}
