import { drizzle, type SqliteRemoteDatabase } from "drizzle-orm/sqlite-proxy";
import type { SqlWriter } from "./sql.ts";

/**
 * drizzle over any SqlDb, or over a transaction's writer: tenantgate's own tables are read and
 * written through drizzle's query builder whichever engine holds them. drizzle's proxy driver asks
 * for rows as arrays ("all", "values") or one such row ("get").
 */
export type Orm = SqliteRemoteDatabase;

export function ormOf(db: SqlWriter): Orm {
  return drizzle(async (sql, params, method) => {
    if (method === "run") return { rows: [await db.run(sql, params)] };
    const rows = await db.values(sql, params);
    return { rows: method === "get" ? (rows[0] as never) : rows };
  });
}
