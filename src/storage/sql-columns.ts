import type { SqlValue, SqlWriter } from "./sql.ts";

/**
 * The columns each table has, asked once per database (`PRAGMA table_info`) and kept: AuthHero's
 * schema grows across versions, so what tenantgate writes is cut to what the table has. One
 * instance per database; `forget` after a migration.
 */
export class TableColumns {
  private readonly tables = new Map<string, Promise<Set<string>>>();

  of(db: SqlWriter, table: string): Promise<Set<string>> {
    let cols = this.tables.get(table);
    if (!cols) {
      cols = db.all<{ name: string }>("SELECT name FROM pragma_table_info(?)", [table]).then((rows) => new Set(rows.map((r) => r.name)));
      // A failed read (the engine down) is not remembered as "no columns".
      cols.catch(() => this.tables.delete(table));
      this.tables.set(table, cols);
    }
    return cols;
  }

  forget(): void {
    this.tables.clear();
  }

  /** Inserts the given values, keeping only the columns the table has. */
  async insert(db: SqlWriter, table: string, row: Record<string, unknown>, mode: "INSERT" | "INSERT OR IGNORE" = "INSERT"): Promise<number> {
    const have = await this.of(db, table);
    const cols = Object.keys(row).filter((c) => have.has(c) && row[c] !== undefined);
    const sql = `${mode} INTO "${table}" (${cols.map((c) => `"${c}"`).join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`;
    return db.run(sql, cols.map((c) => sqlValue(row[c])));
  }

  /** Updates the given columns (those the table has) of rows matching `where` (column = value, ANDed). Rows changed. */
  async update(db: SqlWriter, table: string, set: Record<string, unknown>, where: Record<string, unknown>): Promise<number> {
    const have = await this.of(db, table);
    const cols = Object.keys(set).filter((c) => have.has(c) && set[c] !== undefined);
    if (cols.length === 0) return 0;
    const keys = Object.keys(where);
    const sql = `UPDATE "${table}" SET ${cols.map((c) => `"${c}" = ?`).join(", ")} WHERE ${keys.map((k) => `"${k}" = ?`).join(" AND ")}`;
    return db.run(sql, [...cols.map((c) => sqlValue(set[c])), ...keys.map((k) => sqlValue(where[k]))]);
  }
}

/** Whether the database has the table now (not kept: another process's migration may add one). */
export async function tableExists(db: SqlWriter, table: string): Promise<boolean> {
  return (await db.get("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?", [table])) !== undefined;
}

/** A JavaScript value as SQLite stores it: booleans as 0/1, objects as JSON. */
export function sqlValue(v: unknown): SqlValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "object" && !(v instanceof Uint8Array)) return JSON.stringify(v);
  return v as SqlValue;
}
