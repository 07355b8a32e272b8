import { sqlValue } from "./columns.ts";
import type { SqlStatement, SqlWriter } from "./sql.ts";

// AuthHero records its migrations here; a clone copies their rows so AuthHero sees the new file
// as already migrated to the version it runs.
const BOOKKEEPING_TABLES = ["kysely_migration", "kysely_migration_lock"];

const KIND_ORDER: Record<string, number> = { table: 0, view: 1, index: 2, trigger: 3 };

export interface SchemaTemplate {
  ddl: string[];
  bookkeeping: { table: string; rows: Record<string, unknown>[] }[];
}

/**
 * Reads the schema a tenant database must have: every table, view, index and trigger of the source
 * except SQLite's own and tenantgate's control-plane objects, plus AuthHero's migration rows.
 */
export async function readSchemaTemplate(source: SqlWriter): Promise<SchemaTemplate> {
  const objects = await source.all<{ type: string; name: string; sql: string }>(
    `SELECT type, name, sql FROM sqlite_master
     WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE 'tenantgate\\_%' ESCAPE '\\'`,
  );
  objects.sort((a, b) => (KIND_ORDER[a.type] ?? 9) - (KIND_ORDER[b.type] ?? 9));
  const tables = new Set(objects.filter((o) => o.type === "table").map((o) => o.name));
  const bookkeeping = await Promise.all(
    BOOKKEEPING_TABLES.filter((t) => tables.has(t)).map(async (table) => ({ table, rows: await source.all(`SELECT * FROM "${table}"`) })),
  );
  return { ddl: objects.map((o) => o.sql), bookkeeping };
}

/**
 * The statements that give an empty database the template's schema and bookkeeping rows, in order:
 * one batch of them is one request to a libSQL server.
 */
export function templateStatements(template: SchemaTemplate): SqlStatement[] {
  const statements: SqlStatement[] = template.ddl.map((sql) => ({ sql }));
  for (const { table, rows } of template.bookkeeping) {
    for (const row of rows) {
      const cols = Object.keys(row);
      statements.push({ sql: `INSERT INTO "${table}" (${cols.map((c) => `"${c}"`).join(",")}) VALUES (${cols.map(() => "?").join(",")})`, args: cols.map((c) => sqlValue(row[c])) });
    }
  }
  return statements;
}

/**
 * Gives an empty database the template's schema and bookkeeping rows, inside the caller's
 * transaction; the caller adds the tenant's own rows in the same one, so a database is either
 * whole or empty.
 */
export async function applyTemplate(tx: SqlWriter, template: SchemaTemplate): Promise<void> {
  for (const { sql, args } of templateStatements(template)) await tx.run(sql, args);
}
