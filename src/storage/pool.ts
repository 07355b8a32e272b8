import type { Database } from "bun:sqlite";
import { join } from "node:path";
import { LRUCache } from "lru-cache";
import { contentIdentity, identityOf } from "./file-probe.ts";
import { openSqlite } from "./sqlite.ts";
import { sqliteFailure } from "./sqlite-failure.ts";
import { BunSqlDb, type SqlDb } from "./sql.ts";
import type { TenantAccess, TenantIdentity, ThreadAccess } from "./tenant-store.ts";

export type TenantFileProblem = "missing" | "unreadable";

/** A tenant file that cannot be opened; `cause` is SQLite's own error (see sqliteFailure). */
export class TenantFileError extends Error {
  constructor(
    readonly tenantId: string,
    readonly problem: TenantFileProblem,
    detail: string,
    cause?: unknown,
  ) {
    super(`tenant file for "${tenantId}" is ${problem}: ${detail}`, { cause });
    this.name = "TenantFileError";
  }
}

export interface HandlePoolOptions {
  /** The folder of tenant files (`<data>/tenants`). */
  dir: string;
  /** At most this many files open at once; see descriptors.ts for how it is derived. */
  maxOpen: number;
  busyTimeoutMs?: number;
  /** Decides which ids may become paths; the pool never joins an unchecked id. */
  isValidId: (id: string) => boolean;
}

/**
 * Open handles to tenant files, least recently used first out: the tenant store of local files.
 * `get` hands a handle for synchronous use, never kept across an `await`; `use` holds one for an
 * asynchronous caller, and a handle that leaves while held is closed when its last holder lets go.
 */
export class HandlePool implements TenantAccess {
  readonly engine = "sqlite-file" as const;
  /** A handle that leaves (pushed out by a newer one, or evicted) is closed, here and nowhere else. */
  private readonly handles: LRUCache<string, Database>;
  /** Handles `use` holds now, and how many callers hold each: closing one waits for the last. */
  private readonly held = new Map<Database, { holders: number; left: boolean }>();
  /**
   * One SqlDb per handle for as long as it is open, so what callers remember per database (its
   * columns, its tenantgate tables made) lasts as long as the handle and not one `use`.
   */
  private readonly sql = new WeakMap<Database, SqlDb>();
  /**
   * The file (inode) and WAL each handle was opened on: a file replaced by rename keeps old handles on
   * the old one, and a handle whose WAL was deleted writes where no other process reads.
   */
  private readonly opened = new Map<string, OpenedOn>();
  private opens = 0;

  constructor(private readonly opts: HandlePoolOptions) {
    if (!(opts.maxOpen >= 1)) throw new Error("HandlePool: maxOpen must be at least 1");
    this.handles = new LRUCache<string, Database>({
      max: opts.maxOpen,
      dispose: (db, id) => {
        this.opened.delete(id);
        const hold = this.held.get(db);
        if (hold) hold.left = true;
        else db.close(false);
      },
    });
  }

  pathOf(id: string): string {
    if (!this.opts.isValidId(id)) throw new Error(`refusing to build a path from tenant id ${JSON.stringify(id)}`);
    return join(this.opts.dir, `${id}.sqlite`);
  }

  get(id: string): Database {
    const held = this.handles.get(id);
    if (held) return held;
    const path = this.pathOf(id);
    let db: Database;
    try {
      db = openSqlite(path, { create: false, busyTimeoutMs: this.opts.busyTimeoutMs });
      // Reads the header now, so a file that is not a database fails here and not mid-transaction.
      db.query("SELECT count(*) FROM sqlite_master").get();
    } catch (err) {
      throw new TenantFileError(id, sqliteFailure(err) === "missing" ? "missing" : "unreadable", (err as Error).message, err);
    }
    this.opens++;
    this.handles.set(id, db);
    this.opened.set(id, openedOn(path));
    return db;
  }

  async use<T>(id: string, fn: (db: SqlDb) => Promise<T>): Promise<T> {
    const db = this.get(id);
    let hold = this.held.get(db);
    if (!hold) this.held.set(db, (hold = { holders: 0, left: false }));
    let sql = this.sql.get(db);
    if (!sql) this.sql.set(db, (sql = new BunSqlDb(db)));
    hold.holders++;
    try {
      return await fn(sql);
    } finally {
      if (--hold.holders === 0) {
        this.held.delete(db);
        if (hold.left) db.close(false);
      }
    }
  }

  /** The tenant file's identity by path (inode, size, times, its WAL's); undefined when it is gone or the id names no file. */
  identity(id: string): TenantIdentity | undefined {
    let identity;
    try {
      identity = identityOf(this.pathOf(id));
    } catch {
      return undefined;
    }
    return identity && JSON.stringify(contentIdentity(identity));
  }

  /** Worker threads open tenant files themselves, with the busy timeout of the pool's own handles. */
  get threads(): ThreadAccess {
    return { fileOf: (id) => this.pathOf(id), busyTimeoutMs: this.opts.busyTimeoutMs };
  }

  /** Closes the tenant's handle (before its file is moved or deleted). */
  evict(id: string): void {
    this.handles.delete(id);
  }

  /**
   * Closes the handle if the tenant's path now names another file (or none), or the WAL beside it is
   * not the one the handle writes to. Returns whether it did.
   */
  evictIfReplaced(id: string): boolean {
    const opened = this.opened.get(id);
    if (opened === undefined) return false;
    const now = openedOn(this.pathOf(id));
    if (now.ino === opened.ino && now.walIno === opened.walIno) return false;
    this.evict(id);
    return true;
  }

  /** Checks every open handle against its path; for the periodic rescan. */
  evictReplaced(): string[] {
    return [...this.handles.keys()].filter((id) => this.evictIfReplaced(id));
  }

  closeAll(): void {
    this.handles.clear();
  }

  get openCount(): number {
    return this.handles.size;
  }

  get capacity(): number {
    return this.opts.maxOpen;
  }

  /** Files opened since start: with openCount, tells whether the pool is thrashing. */
  get totalOpens(): number {
    return this.opens;
  }

  /** Ids of the tenants whose files are open now. */
  openIds(): string[] {
    return [...this.handles.keys()];
  }
}

interface OpenedOn {
  ino: number;
  /** SQLite opens (and creates) the WAL on a handle's first read, and no client deletes it while the handle holds its lock. */
  walIno: number;
}

function openedOn(path: string): OpenedOn {
  const identity = identityOf(path);
  return { ino: identity?.ino ?? -1, walIno: identity?.wal?.ino ?? -1 };
}
