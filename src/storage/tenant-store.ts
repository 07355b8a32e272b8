import type { SchemaTemplate } from "./clone.ts";
import type { SqlDb } from "./sql.ts";

/**
 * Where tenants' databases live: local SQLite files (FileTenantStore) or a libSQL server's
 * namespaces (NamespaceTenantStore). Every rule about where a tenant's data is sits behind this
 * seam; the rest of the gateway asks it for a tenant's database and never builds a path or a
 * namespace name itself.
 */
export interface TenantStore extends TenantAccess {
  /** Whether the tenant's database is in place. */
  exists(id: string): Promise<boolean>;
  /**
   * Builds a tenant's database under `work` (a name only one operation uses), where nothing serves
   * it until `place`: the control plane's schema in one transaction, then `fill`'s rows. One cut
   * short is made again from nothing by the next build under the same name.
   */
  build(id: string, work: string, template: SchemaTemplate, fill: (db: SqlDb) => Promise<void>): Promise<void>;
  /** Whether a whole build under `work` is there (a registered create is rolled forward from it). */
  built(id: string, work: string): Promise<boolean>;
  /** Makes what was built under `work` the tenant's database; nothing when it already is. */
  place(id: string, work: string): Promise<void>;
  /** Removes a build under `work` that is not in place, if there is one. */
  discard(id: string, work: string): Promise<void>;
  /** A name in the trash for the tenant's database, not taken yet. */
  trashName(id: string, stamp: string): Promise<string>;
  /** Moves the tenant's database to the trash under `trash`; nothing when it is already there. */
  archive(id: string, trash: string): Promise<void>;
  /** Deletes a trashed database for good. */
  purge(trash: string): Promise<void>;
  /** Deletes trashed databases older than `retentionMs`; their names. */
  sweepTrash(now: number, retentionMs: number): Promise<string[]>;
  /** Removes builds of operations other than `running` (left by a process that died). */
  sweepBuilds(running: ReadonlySet<string>): Promise<void>;
  /**
   * Writes a consistent copy of the tenant's (or the control plane's) database, as it is at one
   * moment, into a new local SQLite file: a backup, the same format whichever store made it.
   */
  exportTo(id: string, file: string): Promise<void>;
  /**
   * Makes a local SQLite file's content the tenant's database (a restore) and removes the file; a
   * database already there is archived under `aside` first, never overwritten.
   */
  placeFrom(id: string, file: string, aside: string): Promise<void>;
  /** Puts an archived database back as the tenant's, if the tenant has none now (an undone restore). */
  unarchive(id: string, trash: string): Promise<void>;
}

/** Reading and writing tenants' databases (what the request path and the relay need). */
export interface TenantAccess {
  readonly engine: SqlDb["engine"];
  /**
   * Runs `fn` on the tenant's database, held open until `fn` settles. A tenant the store does not
   * hold, or cannot open, throws TenantFileError ("missing" or "unreadable").
   */
  use<T>(id: string, fn: (db: SqlDb) => Promise<T>): Promise<T>;
  /**
   * Who the tenant's database is now, seen from outside it: a token that differs whenever it was
   * replaced, rewritten, rolled back or truncated since an earlier one was taken (a file's inode,
   * size and times, and its WAL's). Undefined when it is gone, or when the store cannot tell (a
   * server's namespace): then nothing read from the database earlier may be trusted to still hold,
   * and a caller reads it again each time.
   */
  identity(id: string): TenantIdentity | undefined;
  /**
   * Lets go of what the store holds open for the tenant if its database was replaced under it (a
   * file renamed over the one a handle is on, or its WAL deleted), so the next `use` reaches the
   * database others reach. Says whether it did; false for a store that cannot be fooled so.
   */
  evictIfReplaced(id: string): boolean;
  /** Lets go of what the store holds open for the tenant (after a failure, or before its data moves). */
  evict(id: string): void;
  /** Tenants whose databases the store holds open now: work on them is cheapest on this thread. */
  openIds(): string[];
  /**
   * How threads of their own may open tenants' databases themselves, to work on many in parallel
   * (a large fan-out); undefined for a store that offers none, whose tenants are reached through
   * `use` only (a server's namespaces, whose requests overlap already).
   */
  readonly threads?: ThreadAccess;
  /**
   * How many tenants' work may be in flight at once on this thread: a server's namespaces answer
   * over the network, so requests to many overlap; a file's calls are synchronous, so none (1).
   */
  readonly overlap?: number;
}

/** Compared with `===` only: what it encodes is the store's business. */
export type TenantIdentity = string;

/** What a worker thread needs to open a tenant's SQLite file itself, as the store opens it. */
export interface ThreadAccess {
  /** The tenant's file. */
  fileOf(id: string): string;
  /** How long a write waits for another process's lock, as the store's own handles wait (unset: openSqlite's default). */
  busyTimeoutMs?: number;
}
