import type { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { migrate } from "drizzle-orm/bun-sqlite/migrator";
import { migrate as migrateProxy } from "drizzle-orm/sqlite-proxy/migrator";
import { ormOf } from "./orm.ts";
import type { SqlDb } from "./sql.ts";
import journal from "./migrations/meta/_journal.json" with { type: "json" };
import m0000 from "./migrations/0000_operations.sql" with { type: "text" };
import m0001 from "./migrations/0001_operation_owner.sql" with { type: "text" };
import m0002 from "./migrations/0002_outbox.sql" with { type: "text" };
import m0003 from "./migrations/0003_leases.sql" with { type: "text" };
import m0004 from "./migrations/0004_sync_identity.sql" with { type: "text" };

// drizzle-kit writes the migrations and drizzle's public migrator applies them. The migrator reads a
// folder, which a `bun build --compile` binary does not have; so the SQL is embedded here and laid
// out as that folder in a private temporary directory for the run. A new migration from
// `drizzle-kit generate` gets one line below.
const SQL_BY_TAG: Record<string, string> = {
  "0000_operations": m0000,
  "0001_operation_owner": m0001,
  "0002_outbox": m0002,
  "0003_leases": m0003,
  "0004_sync_identity": m0004,
};

export const MIGRATIONS_TABLE = "tenantgate_migrations";

/** Brings the `tenantgate_*` tables of the control-plane file up to date. Idempotent. */
export function migrateControlPlane(db: Database): void {
  withMigrationsFolder((folder) => migrate(drizzle({ client: db }), { migrationsFolder: folder, migrationsTable: MIGRATIONS_TABLE }));
}

/**
 * The same migrations on an SqlDb (a libSQL namespace), each run's statements as one batch. Two
 * gateways starting on a new server at once may both find them due: the one whose batch fails
 * (its tables were made meanwhile) looks again and finds nothing left to do.
 */
export async function migrateControlPlaneSql(db: SqlDb): Promise<void> {
  const run = () =>
    withMigrationsFolder((folder) =>
      migrateProxy(ormOf(db), async (queries) => void (await db.batch(queries.map((sql) => ({ sql })))), { migrationsFolder: folder, migrationsTable: MIGRATIONS_TABLE }),
    );
  try {
    await run();
  } catch {
    await run();
  }
}

/** drizzle's migrators read a folder: the embedded SQL laid out as one, for the length of `fn`. */
function withMigrationsFolder<T>(fn: (folder: string) => T): T {
  const folder = mkdtempSync(join(tmpdir(), "tenantgate-migrations-"));
  let result: T;
  try {
    mkdirSync(join(folder, "meta"));
    writeFileSync(join(folder, "meta", "_journal.json"), JSON.stringify(journal));
    for (const { tag } of journal.entries) {
      const text = SQL_BY_TAG[tag];
      if (text === undefined) throw new Error(`migration ${tag} is in the journal but not embedded in migrate.ts`);
      writeFileSync(join(folder, `${tag}.sql`), text);
    }
    result = fn(folder);
  } catch (err) {
    rmSync(folder, { recursive: true, force: true });
    throw err;
  }
  if (result instanceof Promise) return result.finally(() => rmSync(folder, { recursive: true, force: true })) as T;
  rmSync(folder, { recursive: true, force: true });
  return result;
}
