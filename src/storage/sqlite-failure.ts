/**
 * What a failed SQLite call means for a tenant file:
 * - `busy`: another connection holds the lock longer than this one waits; the file is fine.
 * - `missing`: the file cannot be opened (it is gone, or its folder cannot be reached).
 * - `corrupt`: SQLite reads it and finds no database, or a damaged one.
 * - `schema`: the statement names a table or column the file does not have.
 * - `other`: anything else, SQLite's or not.
 */
export type SqliteFailure = "busy" | "missing" | "corrupt" | "schema" | "other";

const BY_CODE: Record<string, SqliteFailure> = {
  SQLITE_BUSY: "busy",
  SQLITE_LOCKED: "busy",
  SQLITE_CANTOPEN: "missing",
  SQLITE_CORRUPT: "corrupt",
  SQLITE_NOTADB: "corrupt",
};

/**
 * SQLite's own words for a name the schema lacks. It gives such a statement only the generic
 * SQLITE_ERROR (SQLITE_SCHEMA means a prepared statement went stale, not this), so the message is
 * the one place that tells it apart.
 */
const SCHEMA_MESSAGE = /no such (table|column)|has no column/i;

/**
 * Classifies a failure by SQLite's result code (bun:sqlite's `code`, also carried by errors copied
 * from a fan-out worker), looking through an error that wraps one (`cause`, as TenantFileError).
 * Extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_CORRUPT_INDEX) count as their primary code.
 */
export function sqliteFailure(err: unknown): SqliteFailure {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== "string" || !code.startsWith("SQLITE_")) continue;
    const primary = code.split("_", 2).join("_");
    if (primary === "SQLITE_ERROR") return SCHEMA_MESSAGE.test(e.message) ? "schema" : "other";
    return BY_CODE[primary] ?? "other";
  }
  return "other";
}
