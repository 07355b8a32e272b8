import { columnsIn, insertStatement, updateStatement } from "./columns.ts";
import type { SqlWriter } from "./sql.ts";

/**
 * Inserts the given values, keeping only the columns the table has: AuthHero's schema grows across
 * versions and a tenant's database must accept what tenantgate knows without failing on what it does
 * not. The asynchronous insertRow, for either engine.
 */
export async function insertInto(db: SqlWriter, table: string, row: Record<string, unknown>, mode: "INSERT" | "INSERT OR IGNORE" = "INSERT"): Promise<number> {
  const { sql, args } = insertStatement(await columnsIn(db, table), table, row, mode);
  return db.run(sql, args);
}

/** Updates the given columns (those the table has) of rows matching `where` (column = value, ANDed). Rows changed. */
export async function updateIn(db: SqlWriter, table: string, set: Record<string, unknown>, where: Record<string, unknown>): Promise<number> {
  const statement = updateStatement(await columnsIn(db, table), table, set, where);
  return statement ? db.run(statement.sql, statement.args) : 0;
}
