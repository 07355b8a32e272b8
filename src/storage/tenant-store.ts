import type { SchemaTemplate } from "./clone.ts";
import type { SqlDb, SqlWriter } from "./sql.ts";

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
   * Builds a tenant's database from the control plane's schema and `fill`'s rows, in one
   * transaction, under `work` (a name only one operation uses): not yet the tenant's, until `place`.
   */
  build(id: string, work: string, template: SchemaTemplate, fill: (tx: SqlWriter) => Promise<void>): Promise<void>;
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
}

/** Reading and writing tenants' databases (what the request path and the relay need). */
export interface TenantAccess {
  readonly engine: SqlDb["engine"];
  /**
   * Runs `fn` on the tenant's database, held open until `fn` settles. A tenant the store does not
   * hold, or cannot open, throws TenantFileError ("missing" or "unreadable").
   */
  use<T>(id: string, fn: (db: SqlDb) => Promise<T>): Promise<T>;
}
