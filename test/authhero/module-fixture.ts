import { afterAll, afterEach, beforeAll, beforeEach } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { DataAdapters } from "@authhero/adapter-interfaces";
import { createTenantFileAdapters, libsqlTenantDatabases, type TenantFileAdapters, type TenantFileDataAdapters } from "../../src/authhero/index.ts";
import { LibsqlDb, SqldAdmin } from "../../src/storage/libsql.ts";
import { BunSqlDb, type SqlDb } from "../../src/storage/sql.ts";
import { startSqld, type Sqld } from "../support/sqld.ts";
import { openFixture, type SyncFixture } from "../sync/fixture.ts";
import { EXTRA_TABLES, sqlAdapters } from "./sqlite-adapters.ts";

export const CP = "control_plane";

/** Where the gateway keeps the tenants: files under its data directory, or namespaces of a libSQL server. */
export type Store = "files" | "namespaces";
export const STORES: readonly Store[] = ["files", "namespaces"];

/** What a test may vary when it makes a module of its own over the fixture's tenants. */
export interface ModuleOptions {
  /** AuthHero's adapters over one tenant's database (default: the tests' stand-in). */
  open?: (db: SqlDb, tenantId: string) => DataAdapters;
  maxOpen?: number;
  fallback?: boolean;
  resolveControlPlane?: (tenantId: string) => string | null;
  controlPlaneClientId?: string;
}

export interface ModuleFixture {
  readonly store: Store;
  /** The gateway's side: its tenancy (lifecycle, control plane) on the store. */
  readonly f: SyncFixture;
  /** What AuthHero's logins get (`dataAdapter`). */
  readonly a: TenantFileDataAdapters;
  /** What its management API gets (`managementDataAdapter`). */
  readonly m: TenantFileDataAdapters;
  /** The whole result. */
  readonly both: TenantFileAdapters;
  /** Another connection to a tenant's database (the control plane's too), as a script or AuthHero's other process has one. */
  tenantDb(id: string): SqlDb;
  /** Whether the store holds a database under this id (a file, a namespace). */
  holds(id: string): Promise<boolean>;
  /** Another module over the same tenants; closed after the test. */
  module(o?: ModuleOptions): TenantFileAdapters;
}

/**
 * For each test: a fresh deployment with tenants acme and beta provisioned by the gateway's own
 * lifecycle, and the module over it with the tests' SQL adapter, on either store. On namespaces one
 * sqld serves the whole describe block; each test's deployment is removed from it afterwards, so the
 * next one starts from nothing (removing three namespaces is far cheaper than a new server).
 * Read through the getters.
 */
export function useModuleFixture(store: Store = "files"): ModuleFixture {
  let sqld: Sqld | undefined;
  let f: SyncFixture | undefined;
  let both: TenantFileAdapters | undefined;
  let modules: TenantFileAdapters[] = [];
  let dbs: SqlDb[] = [];

  const module = (o: ModuleOptions = {}): TenantFileAdapters => {
    const { open = (db) => sqlAdapters(db), maxOpen, ...common } = o;
    const fx = f as SyncFixture;
    let made: TenantFileAdapters;
    if (store === "files") {
      made = createTenantFileAdapters({ ...common, dataDir: fx.dataDir, controlPlaneTenantId: CP, maxOpen, open: (database, id) => open(new BunSqlDb(database), id) });
    } else {
      const server = { url: (sqld as Sqld).url };
      const databases = libsqlTenantDatabases({ server, controlPlaneTenantId: CP, maxOpen, open: (client, id) => open(new LibsqlDb(server, id, undefined, client), id) });
      made = createTenantFileAdapters({ ...common, controlPlaneTenantId: CP, databases });
    }
    modules.push(made);
    return made;
  };

  function tenantDb(id: string): SqlDb {
    // A file's connection is closed by the sync fixture with the others it opened.
    if (store === "files") return new BunSqlDb((f as SyncFixture).tenantFile(id));
    const db = new LibsqlDb({ url: (sqld as Sqld).url }, id);
    dbs.push(db);
    return db;
  }

  /** Adds the stand-in's tables to a tenant's database through a connection of its own, closed after. */
  async function migrate(id: string): Promise<void> {
    // Not through tenantDb: a file connection held to the end of the test would hold a purged file.
    const db = store === "files" ? new BunSqlDb(new Database(join((f as SyncFixture).dataDir, "tenants", `${id}.sqlite`))) : new LibsqlDb({ url: (sqld as Sqld).url }, id);
    try {
      await db.script(EXTRA_TABLES);
    } finally {
      db.close();
    }
  }

  if (store === "namespaces") {
    beforeAll(async () => {
      sqld = await startSqld();
    });
    afterAll(async () => {
      await sqld?.dispose();
    });
  }

  beforeEach(async () => {
    f = await openFixture(sqld ? ["--database-url", sqld.url, "--database-admin-url", sqld.adminUrl] : []);
    // At once: on a server each create is round trips, and the two overlap (a third of the set-up saved).
    const lifecycle = f.lifecycle;
    await Promise.all([lifecycle.create({ id: "acme", friendly_name: "Acme" }), lifecycle.create({ id: "beta", friendly_name: "Beta" })]);
    // The stand-in's tables in every database, as AuthHero's migration pass adds its own; a tenant
    // made later is cloned from the control plane with them (and gets its first-login rows).
    for (const id of [CP, "acme", "beta"]) await migrate(id);
    both = module();
  });

  afterEach(async () => {
    for (const made of modules) made.close();
    modules = [];
    for (const db of dbs) db.close();
    dbs = [];
    if (sqld && f) await removeDeployment(f, new SqldAdmin(sqld.adminUrl));
    f?.close();
    f = undefined;
  });

  return {
    store,
    get f() {
      return f as SyncFixture;
    },
    get a() {
      return (both as TenantFileAdapters).dataAdapter;
    },
    get m() {
      return (both as TenantFileAdapters).managementDataAdapter;
    },
    get both() {
      return both as TenantFileAdapters;
    },
    tenantDb,
    async holds(id) {
      if (store === "files") return existsSync(join((f as SyncFixture).dataDir, "tenants", `${id}.sqlite`));
      // sqld refuses the empty name outright (400): no namespace can have it.
      return id !== "" && new SqldAdmin((sqld as Sqld).adminUrl).exists(id);
    },
    module,
  };
}

/** Every namespace the test's deployment made: its tenants (the control plane's rows), its trash, the control plane. */
async function removeDeployment(f: SyncFixture, admin: SqldAdmin): Promise<void> {
  const tenants = await f.cp.sql.all<{ id: string }>("SELECT id FROM tenants");
  const trash = await f.cp.sql.all<{ name: string }>("SELECT name FROM tenantgate_trash").catch(() => []);
  // Last, so a failure on the way leaves the list to read again.
  const names = [...tenants.map((t) => t.id).filter((id) => id !== CP), ...trash.map((t) => t.name), CP];
  for (const name of names) await admin.remove(name);
}
