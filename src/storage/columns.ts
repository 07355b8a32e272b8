import type { Database } from "bun:sqlite";
import type { SqlReader, SqlStatement, SqlValue } from "./sql.ts";

export class SchemaMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchemaMismatchError";
  }
}

const TABLE_COLUMNS = "SELECT name FROM pragma_table_info(?)";
const cache = new WeakMap<Database, Map<string, Set<string>>>();

/** The columns a table has in this file, as `PRAGMA table_info` reports them (cached per handle). */
export function columnsOf(db: Database, table: string): Set<string> {
  let tables = cache.get(db);
  if (!tables) cache.set(db, (tables = new Map()));
  let cols = tables.get(table);
  if (!cols) {
    const rows = db.query(TABLE_COLUMNS).all(table) as { name: string }[];
    cols = new Set(rows.map((r) => r.name));
    tables.set(table, cols);
  }
  return cols;
}

const TABLE_EXISTS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?";

/** Whether the file has the table now (not cached: another process's migration may add one). */
export function hasTable(db: Database, table: string): boolean {
  return db.query(TABLE_EXISTS).get(table) !== null;
}


const cacheIn = new WeakMap<SqlReader, Map<string, Set<string>>>();

/** columnsOf on any engine: cached per SqlReader, which a tenant store keeps as long as its handle. */
export async function columnsIn(db: SqlReader, table: string): Promise<Set<string>> {
  let tables = cacheIn.get(db);
  if (!tables) cacheIn.set(db, (tables = new Map()));
  let cols = tables.get(table);
  if (!cols) {
    const rows = await db.all<{ name: string }>("SELECT name FROM pragma_table_info(?)", [table]);
    cols = new Set(rows.map((r) => r.name));
    tables.set(table, cols);
  }
  return cols;
}

/** hasTable on any engine (not cached either). */
export async function hasTableIn(db: SqlReader, table: string): Promise<boolean> {
  return (await db.get(TABLE_EXISTS, [table])) !== undefined;
}

/** Forgets cached columns, after a migration may have changed them. */
export function forgetColumns(db: Database): void {
  cache.delete(db);
}

export function assertColumns(db: Database, required: Record<string, readonly string[]>, file: string): void {
  checkColumns(required, file, (table) => columnsOf(db, table));
}

/** assertColumns for a database on either engine (its columns read now, not cached). */
export async function assertColumnsIn(db: SqlReader, required: Record<string, readonly string[]>, file: string): Promise<void> {
  const have = new Map<string, Set<string>>();
  for (const table of Object.keys(required)) have.set(table, new Set((await db.all<{ name: string }>(TABLE_COLUMNS, [table])).map((r) => r.name)));
  checkColumns(required, file, (table) => have.get(table) ?? new Set());
}

function checkColumns(required: Record<string, readonly string[]>, file: string, columns: (table: string) => Set<string>): void {
  for (const [table, needed] of Object.entries(required)) {
    const have = columns(table);
    if (have.size === 0) throw new SchemaMismatchError(`${file}: table "${table}" is missing`);
    for (const col of needed) {
      if (!have.has(col)) throw new SchemaMismatchError(`${file}: table "${table}" has no column "${col}"`);
    }
  }
}

/**
 * Inserts the given values, keeping only columns the table has: AuthHero's schema grows across
 * versions and a tenant file must accept what tenantgate knows without failing on what it does not.
 */
export function insertRow(db: Database, table: string, row: Record<string, unknown>, mode: "INSERT" | "INSERT OR IGNORE" = "INSERT"): void {
  const { sql, args } = insertStatement(columnsOf(db, table), table, row, mode);
  db.query(sql).run(...(args as never[]));
}

/** Updates the given columns of rows matching `where` (column = value, ANDed). Returns rows changed. */
export function updateRows(db: Database, table: string, set: Record<string, unknown>, where: Record<string, unknown>): number {
  const statement = updateStatement(columnsOf(db, table), table, set, where);
  return statement ? db.query(statement.sql).run(...(statement.args as never[])).changes : 0;
}

/** The INSERT of `row`'s values into the columns of `table` that it has (`have`), for either engine. */
export function insertStatement(have: Set<string>, table: string, row: Record<string, unknown>, mode: "INSERT" | "INSERT OR IGNORE"): SqlStatement {
  const cols = Object.keys(row).filter((c) => have.has(c) && row[c] !== undefined);
  return { sql: `${mode} INTO "${table}" (${cols.map((c) => `"${c}"`).join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`, args: cols.map((c) => sqlValue(row[c])) };
}

/** The UPDATE of `set`'s columns that `table` has, where `where` holds; undefined when there are none. */
export function updateStatement(have: Set<string>, table: string, set: Record<string, unknown>, where: Record<string, unknown>): SqlStatement | undefined {
  const cols = Object.keys(set).filter((c) => have.has(c) && set[c] !== undefined);
  if (cols.length === 0) return undefined;
  const keys = Object.keys(where);
  return {
    sql: `UPDATE "${table}" SET ${cols.map((c) => `"${c}" = ?`).join(", ")} WHERE ${keys.map((k) => `"${k}" = ?`).join(" AND ")}`,
    args: [...cols.map((c) => sqlValue(set[c])), ...keys.map((k) => sqlValue(where[k]))],
  };
}

/** A JavaScript value as SQLite stores it: booleans as 0/1, objects as JSON. */
export function sqlValue(v: unknown): SqlValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "object" && !(v instanceof Uint8Array)) return JSON.stringify(v);
  return v as SqlValue;
}
