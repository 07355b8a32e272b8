// Where the tenants' databases are, chosen in one place for host.ts and bootstrap.ts, by the same
// settings tenantgate reads:
//   - TENANTGATE_DATABASE_URL set: namespaces of a libSQL server (sqld), each tenant the namespace
//     named by its id, the control plane the one named by CONTROL_PLANE. TENANTGATE_DATABASE_ADMIN_URL
//     (sqld's --admin-listen-addr) lets the host make the control plane's namespace on a new server;
//     TENANTGATE_DATABASE_AUTH_TOKEN is sent when the server requires one.
//   - otherwise: a SQLite file per tenant under DATA_DIR/tenants, as tenantgate's --data-dir.
// Either way AuthHero's kysely adapter reads and writes each database; tenantgate's module routes
// every call to the tenant it names.
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Kysely } from "kysely";
import { BunSqliteDialect } from "kysely-bun-sqlite";
import { LibsqlDialect } from "@libsql/kysely-libsql";
import createAdapters, { migrateToLatest } from "@authhero/kysely-adapter";
import {
  createTenantFileAdapters,
  libsqlTenantDatabases,
  migrateTenantFiles,
  migrateTenantNamespaces,
  namespaceClient,
  SqldAdmin,
  type MigrationPass,
  type TenantFileAdapters,
} from "tenantgate/authhero";

export interface Store {
  /** Where, for the host's messages. */
  where: string;
  /** Whether the control plane has no AuthHero schema yet (a new data directory or server). */
  isNew(): Promise<boolean>;
  /**
   * The control plane's database, for AuthHero's migrations and first rows: a missing file or
   * namespace is made empty (a namespace only with TENANTGATE_DATABASE_ADMIN_URL; without it, it must exist).
   */
  controlPlane(): Promise<{ db: Kysely<any>; close(): void }>;
  /** Every tenant's database on AuthHero's schema, the control plane first, one at a time under a lock. */
  migrate(): Promise<MigrationPass>;
  /** AuthHero's two adapter sets over every tenant, to spread into init() or initMultiTenant(). */
  adapters(controlPlaneClientId: string): TenantFileAdapters;
}

export function chooseStore(o: { dataDir: string; controlPlaneTenantId: string }): Store {
  const url = process.env.TENANTGATE_DATABASE_URL;
  return url ? libsqlStore(url, o.controlPlaneTenantId) : fileStore(o.dataDir, o.controlPlaneTenantId);
}

function fileStore(dataDir: string, controlPlaneTenantId: string): Store {
  const kysely = (database: Database) => new Kysely<any>({ dialect: new BunSqliteDialect({ database }) });
  const file = join(dataDir, "tenants", `${controlPlaneTenantId}.sqlite`);
  return {
    where: `${dataDir}/tenants`,
    isNew: async () => !(await Bun.file(file).exists()),
    async controlPlane() {
      mkdirSync(join(dataDir, "tenants"), { recursive: true });
      const database = new Database(file, { create: true });
      database.exec("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;");
      return { db: kysely(database), close: () => database.close() };
    },
    migrate: () => migrateTenantFiles({ dataDir, controlPlaneTenantId, migrate: (database) => migrateToLatest(kysely(database)) }),
    adapters: (controlPlaneClientId) => createTenantFileAdapters({ dataDir, controlPlaneTenantId, controlPlaneClientId, open: (database) => createAdapters(kysely(database)) }),
  };
}

function libsqlStore(url: string, controlPlaneTenantId: string): Store {
  const server = { url, authToken: process.env.TENANTGATE_DATABASE_AUTH_TOKEN || undefined };
  const adminUrl = process.env.TENANTGATE_DATABASE_ADMIN_URL;
  // AuthHero's kysely adapter over one namespace, through the namespace's own client.
  const kysely = (client: ReturnType<typeof namespaceClient>) => new Kysely<any>({ dialect: new LibsqlDialect({ client: client as never }) });
  return {
    where: `the namespaces of ${url}`,
    async isNew() {
      if (adminUrl && !(await new SqldAdmin(adminUrl).exists(controlPlaneTenantId))) return true;
      const client = namespaceClient(server, controlPlaneTenantId);
      try {
        const found = await client.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tenants'");
        return found.rows.length === 0;
      } catch (err) {
        if ((err as { status?: number }).status === 404) return true;
        throw err;
      } finally {
        client.close();
      }
    },
    async controlPlane() {
      if (adminUrl) await new SqldAdmin(adminUrl).create(controlPlaneTenantId);
      const client = namespaceClient(server, controlPlaneTenantId);
      return { db: kysely(client), close: () => client.close() };
    },
    migrate: () => migrateTenantNamespaces({ server, controlPlaneTenantId, migrate: (client) => migrateToLatest(kysely(client)) }),
    adapters: (controlPlaneClientId) =>
      createTenantFileAdapters({
        controlPlaneTenantId,
        controlPlaneClientId,
        databases: libsqlTenantDatabases({ server, controlPlaneTenantId, open: (client) => createAdapters(kysely(client)) }),
      }),
  };
}
