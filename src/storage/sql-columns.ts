import { columnsIn } from "./columns.ts";
import type { SqlValue, SqlWriter } from "./sql.ts";

/**
 * Inserts the given values, keeping only the columns the table has: AuthHero's schema grows across
 * versions and a tenant's database must accept what tenantgate knows without failing on what it does
 * not. The asynchronous insertRow, for either engine.
 */
export async function insertInto(db: SqlWriter, table: string, row: Record<string, unknown>, mode: "INSERT" | "INSERT OR IGNORE" = "INSERT"): Promise<number> {
  const have = await columnsIn(db, table);
  const cols = Object.keys(row).filter((c) => have.has(c) && row[c] !== undefined);
  const sql = `${mode} INTO "${table}" (${cols.map((c) => `"${c}"`).join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`;
  return db.run(sql, cols.map((c) => sqlValue(row[c])));
}

/** Updates the given columns (those the table has) of rows matching `where` (column = value, ANDed). Rows changed. */
export async function updateIn(db: SqlWriter, table: string, set: Record<string, unknown>, where: Record<string, unknown>): Promise<number> {
  const have = await columnsIn(db, table);
  const cols = Object.keys(set).filter((c) => have.has(c) && set[c] !== undefined);
  if (cols.length === 0) return 0;
  const keys = Object.keys(where);
  const sql = `UPDATE "${table}" SET ${cols.map((c) => `"${c}" = ?`).join(", ")} WHERE ${keys.map((k) => `"${k}" = ?`).join(" AND ")}`;
  return db.run(sql, [...cols.map((c) => sqlValue(set[c])), ...keys.map((k) => sqlValue(where[k]))]);
}

/** A JavaScript value as SQLite stores it: booleans as 0/1, objects as JSON. */
export function sqlValue(v: unknown): SqlValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "object" && !(v instanceof Uint8Array)) return JSON.stringify(v);
  return v as SqlValue;
}
