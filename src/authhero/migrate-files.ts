import { Database } from "bun:sqlite";
import { join } from "node:path";
import { hasTable } from "../storage/files.ts";
import { holdExclusiveLock } from "../storage/files.ts";
import { openSqlite } from "../storage/files.ts";
import { tenantFileIds } from "./tenant-files.ts";

export interface MigrateTenantFilesOptions {
  /** The gateway's data directory. */
  dataDir: string;
  controlPlaneTenantId: string;
  /**
   * The host's migration of one file, for example AuthHero's
   * `(db) => migrateToLatest(new Kysely({ dialect: new BunSqliteDialect({ database: db }) }))`.
   */
  migrate: (database: Database, tenantId: string) => Promise<void>;
  /** How long to wait for another process's pass to end before giving up (default 120 s). */
  lockWaitMs?: number;
}

export interface MigrationPass {
  migrated: string[];
  failed: { tenantId: string; error: string }[];
}

/**
 * Brings every tenant file to the host's schema: the control plane first (new tenant files are
 * cloned from it), then each tenant file, one at a time. AuthHero's migrator is per file, neither
 * locked nor transactional on SQLite, and two processes migrating one file at once fail; so a pass
 * holds an exclusive lock (a SQLite lock on a small file beside the tenants, never on a tenant file)
 * and a second process's pass waits for it, then finds nothing left to do. A file that fails is
 * reported and the pass goes on: it stays on its old schema, as it would have without the pass.
 */
const BASELINE_FILE =
  "this file has tenantgate's own minimal schema (tenantgate was started first on a new data directory), which AuthHero's migrations cannot take over: start the AuthHero host first on a new data directory, or move this one aside";

/** AuthHero's tables without AuthHero's record of having made them: tenantgate's standalone baseline. */
function madeByTenantgateBaseline(db: Database): boolean {
  if (!hasTable(db, "tenants")) return false;
  if (!hasTable(db, "kysely_migration")) return true;
  return (db.query("SELECT count(*) AS n FROM kysely_migration").get() as { n: number }).n === 0;
}

export async function migrateTenantFiles(o: MigrateTenantFilesOptions): Promise<MigrationPass> {
  const dir = join(o.dataDir, "tenants");
  const pass: MigrationPass = { migrated: [], failed: [] };
  const lock = holdExclusiveLock(join(o.dataDir, "tenantgate-migrations.lock"), o.lockWaitMs ?? 120_000);
  try {
    const ids = tenantFileIds(dir, o.controlPlaneTenantId);
    const order = [o.controlPlaneTenantId, ...ids.filter((id) => id !== o.controlPlaneTenantId).sort()];
    for (const tenantId of order) {
      let db: Database | undefined;
      try {
        db = openSqlite(join(dir, `${tenantId}.sqlite`), { create: false });
        if (madeByTenantgateBaseline(db)) throw new Error(BASELINE_FILE);
        await o.migrate(db, tenantId);
        pass.migrated.push(tenantId);
      } catch (err) {
        pass.failed.push({ tenantId, error: err instanceof Error ? err.message : String(err) });
      } finally {
        db?.close(false);
      }
    }
  } finally {
    lock.release();
  }
  return pass;
}
