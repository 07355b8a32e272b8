import { Database } from "bun:sqlite";

export interface OpenOptions {
  /** Create the file when it does not exist. Off for tenant files: a missing tenant is never re-created by a read. */
  create?: boolean;
  busyTimeoutMs?: number;
}

/**
 * Opens one SQLite file with the connection settings both processes (tenantgate and AuthHero) rely
 * on. WAL is a property of the file and is set when a file is made; here only the per-connection
 * pragmas are set, because opens dominate fan-out cost.
 */
export function openSqlite(path: string, opts: OpenOptions = {}): Database {
  const db = new Database(path, { create: opts.create ?? false, readwrite: true, strict: true });
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? 5000)}`);
    db.exec("PRAGMA foreign_keys = ON");
    db.exec("PRAGMA synchronous = NORMAL");
    if (opts.create) db.exec("PRAGMA journal_mode = WAL");
  } catch (err) {
    db.close(false);
    throw err;
  }
  return db;
}

/** Runs `fn` in an IMMEDIATE transaction so a writer takes the lock up front instead of failing on upgrade. */
export function immediate<T>(db: Database, fn: () => T): T {
  return db.transaction(fn).immediate();
}
