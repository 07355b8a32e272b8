// The tenant-file layer of storage: opening SQLite files, the handle pool, looking at files by path,
// SQLite's failure classes, tenantgate's tables inside a tenant file, the cross-process lock. It is a
// face of its own because the AuthHero module and the worker threads need only this, and the full
// face (index.ts) loads the control plane, its migrations and drizzle with it.
export { assertColumns, assertColumnsIn, columnsIn, columnsOf, forgetColumns, hasTable, hasTableIn, insertRow, SchemaMismatchError, updateRows } from "./columns.ts";
export { causedBy } from "./cause.ts";
export { moveDbFiles, removeDbFiles, scratchFileOf } from "./db-files.ts";
export { holdExclusiveLock, type ExclusiveLock } from "./exclusive-lock.ts";
export { identityOf, probeDatabase, sameIdentity, type FileIdentity } from "./file-probe.ts";
export { HandlePool, TenantFileError } from "./pool.ts";
export { BunSqlDb, type Row, type SqlArgs, type SqlDb, type SqlReader, type SqlStatement, type SqlValue, type SqlWriter } from "./sql.ts";
export type { TenantAccess, TenantIdentity, TenantStore, ThreadAccess } from "./tenant-store.ts";
export { insertInto, updateIn } from "./sql-columns.ts";
export { sqliteFailure, type SqliteFailure } from "./sqlite-failure.ts";
export { immediate, openSqlite } from "./sqlite.ts";
export { DatabaseUnreachable, isDatabaseUnreachable } from "./unreachable.ts";
export { ensureTenantTables, ensureTenantTablesIn, forgetCursor, markOrigin, originMark, originOf, type FileOrigin } from "./tenant-tables.ts";
