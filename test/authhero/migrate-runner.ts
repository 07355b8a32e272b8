// A host process's migration pass, as an AuthHero host runs it at start (used by migrate.test.ts).
// The migration behaves like AuthHero's kysely migrator on SQLite: unlocked, not in a transaction,
// and it fails on a file another process is migrating at the same moment (the column exists by then).
import type { Database } from "bun:sqlite";
import { migrateTenantFiles } from "../../src/authhero/index.ts";

const [dataDir, controlPlane] = process.argv.slice(2) as [string, string];
const NAME = "2026-12-01T00:00:00_roles_extra";

async function migrate(db: Database): Promise<void> {
  const done = db.query("SELECT 1 FROM kysely_migration WHERE name = ?").get(NAME);
  if (done) return;
  await Bun.sleep(30); // the window in which a second migrator sees the same "not yet"
  db.exec("ALTER TABLE roles ADD COLUMN extra TEXT");
  db.query("INSERT INTO kysely_migration (name, timestamp) VALUES (?, ?)").run(NAME, new Date().toISOString());
}

const pass = process.env.NO_LOCK
  ? await (async () => {
      const { readdirSync } = await import("node:fs");
      const { openSqlite } = await import("../../src/storage/sqlite.ts");
      const failed: string[] = [];
      for (const name of readdirSync(`${dataDir}/tenants`).filter((n) => n.endsWith(".sqlite"))) {
        const db = openSqlite(`${dataDir}/tenants/${name}`);
        try {
          await migrate(db);
        } catch (err) {
          failed.push(`${name}: ${(err as Error).message}`);
        } finally {
          db.close(false);
        }
      }
      return { failed };
    })()
  : await migrateTenantFiles({ dataDir, controlPlaneTenantId: controlPlane, migrate });
console.log(JSON.stringify(pass));
