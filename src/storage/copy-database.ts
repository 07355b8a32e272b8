import { sqlValue } from "./columns.ts";
import type { SqlReader, SqlWriter } from "./sql.ts";

/** Rows per INSERT while copying (SQLite's default limit is 32,766 bound values per statement). */
const ROWS_PER_INSERT = 200;

/** Objects SQLite or the server keeps for itself: never copied (sqlite_sequence's rows are, after the data). */
const OWN_OBJECT = /^(sqlite_|libsql_|_litestream)/;

/**
 * Copies a whole database into an empty one, through SQL alone, so it works between any two
 * engines (a libSQL namespace into a local file, and back): the tables, then every row, then
 * indexes, views and triggers (made last, so no trigger fires for the copied rows), then
 * AUTOINCREMENT's counters. `from` should be a snapshot, so the copy is of one moment.
 */
export async function copyDatabase(from: SqlReader, to: SqlWriter): Promise<void> {
  const objects = await from.all<{ type: string; name: string; tbl_name: string; sql: string | null }>(
    "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid",
  );
  const mine = objects.filter((o) => !OWN_OBJECT.test(o.name));
  const tables = mine.filter((o) => o.type === "table");
  for (const t of tables) await to.run(t.sql as string);
  for (const t of tables) await copyRows(from, to, t.name);
  for (const o of mine.filter((o) => o.type !== "table")) await to.run(o.sql as string);
  if (objects.some((o) => o.name === "sqlite_sequence")) {
    for (const row of await from.all<{ name: string; seq: number }>("SELECT name, seq FROM sqlite_sequence"))
      await to.run("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", [row.name, row.seq]);
  }
}

async function copyRows(from: SqlReader, to: SqlWriter, table: string): Promise<void> {
  const columns = (await from.all<{ name: string }>("SELECT name FROM pragma_table_info(?)", [table])).map((c) => c.name);
  if (columns.length === 0) return;
  const list = columns.map((c) => `"${c.replaceAll('"', '""')}"`).join(", ");
  const quoted = `"${table.replaceAll('"', '""')}"`;
  const rows = await from.values(`SELECT ${list} FROM ${quoted}`);
  const perInsert = Math.max(1, Math.min(ROWS_PER_INSERT, Math.floor(32_000 / columns.length)));
  const placeholders = `(${columns.map(() => "?").join(", ")})`;
  for (let i = 0; i < rows.length; i += perInsert) {
    const chunk = rows.slice(i, i + perInsert);
    await to.run(`INSERT INTO ${quoted} (${list}) VALUES ${chunk.map(() => placeholders).join(", ")}`, chunk.flat().map(sqlValue));
  }
}
