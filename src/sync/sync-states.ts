import type { Database } from "bun:sqlite";
import { eq } from "drizzle-orm";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { syncState } from "../storage/index.ts";
import { TenantSync } from "./tenant-sync.ts";

/**
 * What the relay knows of every tenant's sync, mirrored on the control plane
 * (`tenantgate_sync_state`) so that a start reads one table instead of every tenant file. The tenant
 * file's own cursor is the truth; the mirror may trail it.
 */
export class SyncStates {
  private readonly tenants = new Map<string, TenantSync>();
  private readonly orm: BunSQLiteDatabase;

  constructor(private readonly db: Database) {
    this.orm = drizzle({ client: db });
  }

  /** Reads the mirror: every cursor in it is remembered, not yet checked against its file. */
  load(): void {
    for (const row of this.orm.select().from(syncState).all()) {
      const { cursor, attempts, lastError, lastErrorAt, nextAttemptAt, conflicts } = row;
      this.tenants.set(row.tenantId, TenantSync.remembered({ cursor, attempts, lastError, lastErrorAt, nextAttemptAt, conflicts }));
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
  forget(tenantId: string): void {
    this.tenants.get(tenantId)?.forgotten();
    this.orm.delete(syncState).where(eq(syncState.tenantId, tenantId)).run();
  }

  /** Tenants that no longer exist leave the mirror (and what is known of them). */
  prune(existing: ReadonlySet<string>): void {
    for (const row of this.orm.select({ tenantId: syncState.tenantId }).from(syncState).all()) {
      if (existing.has(row.tenantId)) continue;
      this.orm.delete(syncState).where(eq(syncState.tenantId, row.tenantId)).run();
      this.tenants.delete(row.tenantId);
    }
  }

  /** Writes the states changed since the last call to the mirror, in one transaction. */
  persist(): void {
    const changed = [...this.tenants].filter(([, s]) => s.dirty);
    if (changed.length === 0) return;
    const now = new Date().toISOString();
    this.db.transaction(() => {
      for (const [tenantId, s] of changed) {
        const values = {
          cursor: s.cursor ?? 0,
          attempts: s.attempts,
          lastError: s.lastError,
          lastErrorAt: s.lastErrorAt,
          nextAttemptAt: s.nextAttemptAt,
          conflicts: s.conflicts,
          updatedAt: now,
        };
        this.orm.insert(syncState).values({ tenantId, ...values }).onConflictDoUpdate({ target: syncState.tenantId, set: values }).run();
        s.dirty = false;
      }
    })();
  }
}
