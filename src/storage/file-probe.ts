import { Database } from "bun:sqlite";
import { statSync } from "node:fs";
import { sqliteFailure } from "./sqlite-failure.ts";

// THE RULE for every look at a database file (a tenant file, its -wal or -shm) from outside SQLite:
// never open a descriptor of it. POSIX advisory locks belong to the process and the inode, and
// close() of ANY descriptor of that inode drops every lock the process holds on it, SQLite's
// included (SQLite's "How To Corrupt An SQLite Database File", section 2.2). A header check with
// open/read/close on a file the gateway held through SQLite let the next foreign client that closed
// the file believe it was the last one: it checkpointed and deleted the WAL under the gateway, whose
// later commits went into the deleted file and were lost at the next kill -9.
//
// So: metadata by path only (stat, rename, unlink: no descriptor), and content only through SQLite.
// SQLite's unix VFS keeps one lock table per inode for the whole process (every thread, every
// connection) and defers closing a descriptor while any connection still holds a lock, so a second
// connection opened and closed here is safe where a raw descriptor is not. test/storage/ has a test
// that scans src/ for raw opens.

/** Who a file is, by path: what changes when it is replaced, rewritten, truncated or its WAL goes. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  /** The `-wal` beside it (its inode and size), or null when there is none. */
  wal: { ino: number; size: number; mtimeMs: number } | null;
}

export function identityOf(path: string): FileIdentity | undefined {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return undefined;
  const wal = statSync(`${path}-wal`, { throwIfNoEntry: false });
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, wal: wal ? { ino: wal.ino, size: wal.size, mtimeMs: wal.mtimeMs } : null };
}

/**
 * The identity as far as the content goes: an empty WAL holds no frames, so whether there is one
 * changes nothing (SQLite makes one at a connection's first read, a read-only connection leaves it
 * behind, and the last connection to close removes it).
 */
export function contentIdentity(identity: FileIdentity): FileIdentity {
  return identity.wal && identity.wal.size === 0 ? { ...identity, wal: null } : identity;
}

/** Whether the file may have changed between two looks: any difference but an empty WAL's coming or going. */
export function sameIdentity(x: FileIdentity | undefined, y: FileIdentity | undefined): boolean {
  if (!x || !y) return x === y;
  const a = contentIdentity(x);
  const b = contentIdentity(y);
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.wal?.ino === b.wal?.ino && a.wal?.size === b.wal?.size && a.wal?.mtimeMs === b.wal?.mtimeMs;
}

export type Probe =
  | { state: "missing" }
  /** Another process held a lock longer than the probe waits (a checkpoint at its close): no verdict. */
  | { state: "busy"; reason: string }
  | { state: "unreadable"; reason: string; identity: FileIdentity }
  | { state: "database"; identity: FileIdentity };

/** A probe runs on the gateway's main thread: it waits this long for a lock, not the writers' timeout. */
const PROBE_BUSY_MS = 100;

/**
 * Whether `path` is a SQLite database with tables, read through SQLite (never a raw descriptor, see
 * above). `deep` also runs `PRAGMA quick_check`, for a file that shrank or was found corrupt: a file
 * cut short keeps a valid first page.
 */
export function probeDatabase(path: string, opts: { deep?: boolean } = {}): Probe {
  const identity = identityOf(path);
  if (!identity) return { state: "missing" };
  if (identity.size === 0) return { state: "unreadable", reason: "the file is empty", identity };
  let db: Database | undefined;
  try {
    db = new Database(path, { readonly: true });
    db.exec(`PRAGMA busy_timeout = ${PROBE_BUSY_MS}`);
    const tables = (db.query("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number }).n;
    if (tables === 0) return { state: "unreadable", reason: "the database holds no tables", identity };
    if (opts.deep) {
      const rows = (db.query("PRAGMA quick_check").all() as { quick_check: string }[]).map((r) => r.quick_check);
      if (rows.join("; ") !== "ok") return { state: "unreadable", reason: `quick_check: ${rows.slice(0, 3).join("; ")}`, identity };
    }
    return { state: "database", identity };
  } catch (err) {
    if (!identityOf(path)) return { state: "missing" };
    if (sqliteFailure(err) === "busy") return { state: "busy", reason: (err as Error).message };
    return { state: "unreadable", reason: (err as Error).message, identity };
  } finally {
    db?.close(false);
  }
}
