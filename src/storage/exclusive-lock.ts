import { Database } from "bun:sqlite";

export interface ExclusiveLock {
  release(): void;
}

/**
 * A lock held across processes for work that checks and then changes a schema (migrations): SQLite's
 * exclusive lock on a small file of its own, never on a tenant file, so nothing that reads or writes
 * tenant data waits on it. Waits up to `waitMs` for another holder; the process's end releases it too.
 */
export function holdExclusiveLock(path: string, waitMs: number): ExclusiveLock {
  const lock = new Database(path, { create: true });
  try {
    lock.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(waitMs))}`);
    lock.exec("BEGIN EXCLUSIVE");
  } catch (err) {
    lock.close(false);
    throw err;
  }
  return {
    release() {
      try {
        lock.exec("COMMIT");
      } finally {
        lock.close(false);
      }
    },
  };
}
