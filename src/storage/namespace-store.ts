import { LRUCache } from "lru-cache";
import { templateStatements, type SchemaTemplate } from "./clone.ts";
import { isNotFound, LibsqlDb, type LibsqlServer, type SqldAdmin } from "./libsql.ts";
import { TenantFileError } from "./pool.ts";
import { copyDatabase } from "./copy-database.ts";
import { BunSqlDb, type SqlDb } from "./sql.ts";
import { openSqlite } from "./sqlite.ts";
import { rmSync } from "node:fs";
import type { TenantIdentity, TenantStore } from "./tenant-store.ts";

export interface NamespaceStoreOptions {
  server: LibsqlServer;
  admin: SqldAdmin;
  /** The control plane's database: it keeps the list of trashed namespaces (sqld cannot list them). */
  controlPlane: SqlDb;
  /** Its id, the one namespace besides the tenants' that the store copies out (a backup). */
  controlPlaneId: string;
  /** At most this many namespace clients kept (each is a small HTTP client; none holds a socket idle). */
  maxClients: number;
  /** Decides which ids may become namespace names; the store never uses an unchecked id. */
  isValidId: (id: string) => boolean;
}

const TRASH_TABLE = `CREATE TABLE IF NOT EXISTS tenantgate_trash (
  name TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL,
  trashed_at TEXT NOT NULL
)`;

/**
 * Tenants as namespaces of a libSQL server (sqld): tenant `acme` is namespace `acme`. A namespace
 * cannot be renamed, so a new tenant's is built under its own name, where nothing reads it until the
 * control plane lists the tenant, and placing it is nothing; a deleted one is forked to a trash
 * namespace (listed in the control plane's `tenantgate_trash`) and removed.
 */
export class NamespaceTenantStore implements TenantStore {
  readonly engine = "libsql" as const;
  /**
   * sqld answers requests for different namespaces in parallel, so many in flight pay; past what
   * keeps its cores busy, more neither help nor hurt (bench/sqld-fanout.ts, docs/benchmarks.md).
   * 32 leaves room for a server with more cores than the one measured.
   */
  readonly overlap = 32;
  private readonly clients: LRUCache<string, LibsqlDb>;
  private trashReady?: Promise<void>;

  constructor(private readonly o: NamespaceStoreOptions) {
    // HTTP clients hold nothing between requests: one pushed out needs no closing, even mid-request.
    this.clients = new LRUCache<string, LibsqlDb>({ max: Math.max(1, o.maxClients) });
  }

  async use<T>(id: string, fn: (db: SqlDb) => Promise<T>): Promise<T> {
    const db = this.client(id);
    try {
      return await fn(db);
    } catch (err) {
      if (isNotFound(err)) throw new TenantFileError(id, "missing", `the libSQL server has no namespace "${id}"`, err);
      throw err;
    }
  }

  identity(): TenantIdentity | undefined {
    // A namespace replaced behind the gateway's back cannot be told from outside it.
    return undefined;
  }

  evictIfReplaced(): boolean {
    return false;
  }

  evict(id: string): void {
    this.clients.delete(id);
  }

  openIds(): string[] {
    // Every request is its own: no tenant is cheaper to reach than another.
    return [];
  }

  exists(id: string): Promise<boolean> {
    return this.o.admin.exists(id === this.o.controlPlaneId ? id : this.name(id));
  }

  async build(id: string, _work: string, template: SchemaTemplate, fill: (db: SqlDb) => Promise<void>): Promise<void> {
    const name = this.name(id);
    // A build cut short by a crash left an empty namespace (its schema is one batch, atomic, that
    // never committed): it is made again from nothing.
    if (!(await this.o.admin.create(name))) {
      await this.o.admin.remove(name);
      await this.o.admin.create(name);
    }
    this.clients.delete(id);
    const db = this.client(id);
    // One batch is one request: an interactive transaction sent every statement on its own (about
    // 110 round trips, most of a create's time; docs/benchmarks.md).
    await db.batch(templateStatements(template));
    await fill(db);
  }

  async built(id: string): Promise<boolean> {
    if (!(await this.exists(id))) return false;
    return (await this.client(id).get("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'tenants'")) !== undefined;
  }

  async place(): Promise<void> {
    // Built where it serves: there is nothing to move.
  }

  async discard(id: string): Promise<void> {
    this.clients.delete(id);
    await this.o.admin.remove(this.name(id));
  }

  async trashName(id: string, stamp: string): Promise<string> {
    // `_` never appears in a tenant id (a DNS label), so it separates the stamp from the id.
    return `trash${stamp.toLowerCase().replace(/[^0-9a-z]/g, "")}_${this.name(id)}`;
  }

  async archive(id: string, trash: string): Promise<void> {
    const name = this.name(id);
    this.clients.delete(id);
    await this.prepareTrash();
    if (await this.o.admin.exists(name)) {
      if (!(await this.o.admin.exists(trash))) await this.o.admin.fork(name, trash);
      await this.o.controlPlane.run("INSERT OR IGNORE INTO tenantgate_trash (name, tenant_id, trashed_at) VALUES (?, ?, ?)", [trash, id, new Date().toISOString()]);
      await this.o.admin.remove(name);
    }
  }

  async purge(trash: string): Promise<void> {
    await this.prepareTrash();
    await this.o.admin.remove(trash);
    await this.o.controlPlane.run("DELETE FROM tenantgate_trash WHERE name = ?", [trash]);
  }

  async sweepTrash(now: number, retentionMs: number): Promise<string[]> {
    await this.prepareTrash();
    const before = new Date(now - retentionMs).toISOString();
    const old = await this.o.controlPlane.all<{ name: string }>("SELECT name FROM tenantgate_trash WHERE trashed_at < ?", [before]);
    for (const { name } of old) await this.purge(name);
    return old.map((t) => t.name);
  }

  async sweepBuilds(): Promise<void> {
    // A build is the tenant's own namespace: an interrupted one is undone by its operation's recovery.
  }

  async exportTo(id: string, file: string): Promise<void> {
    // The control plane is a namespace too: its backup is made the same way.
    const source = id === this.o.controlPlaneId ? this.o.controlPlane : this.client(id);
    const target = new BunSqlDb(openSqlite(file, { create: true }));
    try {
      await source.snapshot((reader) => target.transaction((tx) => copyDatabase(reader, tx)));
    } catch (err) {
      throw isNotFound(err) ? new TenantFileError(id, "missing", `the libSQL server has no namespace "${id}"`, err) : err;
    } finally {
      target.close();
    }
  }

  async placeFrom(id: string, file: string, aside: string): Promise<void> {
    const name = this.name(id);
    if (await this.o.admin.exists(name)) await this.archive(id, aside);
    await this.o.admin.create(name);
    this.clients.delete(id);
    const source = new BunSqlDb(openSqlite(file));
    try {
      // One transaction: the namespace is empty or whole, and a retry after a crash finds it so.
      await source.snapshot((reader) => this.client(id).transaction((tx) => copyDatabase(reader, tx)));
    } finally {
      source.close();
    }
    rmSync(file, { force: true });
  }

  async unarchive(id: string, trash: string): Promise<void> {
    const name = this.name(id);
    if ((await this.o.admin.exists(name)) || !(await this.o.admin.exists(trash))) return;
    await this.o.admin.fork(trash, name);
    await this.o.admin.remove(trash);
    await this.prepareTrash();
    await this.o.controlPlane.run("DELETE FROM tenantgate_trash WHERE name = ?", [trash]);
    this.clients.delete(id);
  }

  private client(id: string): LibsqlDb {
    let db = this.clients.get(id);
    if (!db) this.clients.set(id, (db = new LibsqlDb(this.o.server, this.name(id))));
    return db;
  }

  private name(id: string): string {
    if (!this.o.isValidId(id)) throw new Error(`refusing to name a namespace after tenant id ${JSON.stringify(id)}`);
    return id;
  }

  private prepareTrash(): Promise<void> {
    this.trashReady ??= this.o.controlPlane.run(TRASH_TABLE).then(
      () => {},
      (err) => {
        this.trashReady = undefined;
        throw err;
      },
    );
    return this.trashReady;
  }
}
