import type { Database } from "bun:sqlite";
import { openSqlite } from "./sqlite.ts";

// AuthHero records its migrations here; a clone copies their rows so AuthHero sees the new file
// as already migrated to the version it runs.
const BOOKKEEPING_TABLES = ["kysely_migration", "kysely_migration_lock"];

const KIND_ORDER: Record<string, number> = { table: 0, view: 1, index: 2, trigger: 3 };

export interface SchemaTemplate {
  ddl: string[];
  bookkeeping: { table: string; rows: Record<string, unknown>[] }[];
}

/**
 * Reads the schema a tenant file must have: every table, view, index and trigger of the source
 * except SQLite's own and tenantgate's control-plane objects, plus AuthHero's migration rows.
 */
export function readSchemaTemplate(source: Database): SchemaTemplate {
  const objects = source
    .query(
      `SELECT type, name, sql FROM sqlite_master
       WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE 'tenantgate\\_%' ESCAPE '\\'`,
    )
    .all() as { type: string; name: string; sql: string }[];
  objects.sort((a, b) => (KIND_ORDER[a.type] ?? 9) - (KIND_ORDER[b.type] ?? 9));
  const tables = new Set(objects.filter((o) => o.type === "table").map((o) => o.name));
  const bookkeeping = BOOKKEEPING_TABLES.filter((t) => tables.has(t)).map((table) => ({
    table,
    rows: source.query(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[],
  }));
  return { ddl: objects.map((o) => o.sql), bookkeeping };
}

/**
 * Creates a new SQLite file at `path` with the template's schema and bookkeeping rows, in WAL mode,
 * inside one transaction; then `fill` adds the tenant's own rows before the handle is returned.
 * The caller builds at a temporary path and renames into place, so a crash leaves no half tenant.
 */
export function createFromTemplate(path: string, template: SchemaTemplate, fill?: (db: Database) => void): Database {
  const db = openSqlite(path, { create: true });
  try {
    db.transaction(() => {
      for (const stmt of template.ddl) db.exec(stmt);
      for (const { table, rows } of template.bookkeeping) {
        for (const row of rows) {
          const cols = Object.keys(row);
          db.query(`INSERT INTO "${table}" (${cols.map((c) => `"${c}"`).join(",")}) VALUES (${cols.map(() => "?").join(",")})`).run(
            ...(cols.map((c) => row[c]) as never[]),
          );
        }
      }
      fill?.(db);
    })();
  } catch (err) {
    db.close(false);
    throw err;
  }
  return db;
}
