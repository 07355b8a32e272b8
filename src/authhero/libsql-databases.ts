import type { Client } from "@libsql/client/web";
import type { DataAdapters } from "@authhero/adapter-interfaces";
import { LRUCache } from "lru-cache";
import { isNotFound, LibsqlDb, namespaceClient, type LibsqlServer } from "../storage/libsql.ts";
import type { TenantDatabases } from "./tenant-databases.ts";

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface LibsqlTenantDatabasesOptions {
  /** The libSQL server tenantgate keeps the tenants on (`--database-url`, `--database-auth-token`). */
  server: LibsqlServer;
  controlPlaneTenantId: string;
  /** AuthHero's adapters over one namespace's client (for example its kysely adapter with `LibsqlDialect({ client })`). */
  open: (client: Client, tenantId: string) => DataAdapters;
  /** Namespaces with a client at once (default 256); the least recently used one's client is closed. */
  maxOpen?: number;
}

/**
 * The module's tenant databases on a libSQL server: each tenant is the namespace named by its id,
 * the control plane the namespace named by the control plane's id. Nothing is opened until a call
 * names a tenant, and a name is never made into a namespace: a call for a namespace the server does
 * not hold fails with its 404 (after sqld's eviction retries), which the module answers as it
 * answers a tenant it does not know. The tenants are the control plane's `tenants` rows.
 */
export function libsqlTenantDatabases(o: LibsqlTenantDatabasesOptions): TenantDatabases {
  const held = new LRUCache<string, { client: Client; adapters: DataAdapters }>({
    max: Math.max(2, o.maxOpen ?? 256),
    dispose: ({ client }) => client.close(),
  });
  const controlPlane = new LibsqlDb(o.server, o.controlPlaneTenantId);
  return {
    get(tenantId) {
      if (typeof tenantId !== "string" || !(LABEL.test(tenantId) || tenantId === o.controlPlaneTenantId)) return undefined;
      let entry = held.get(tenantId);
      if (!entry) {
        const client = namespaceClient(o.server, tenantId);
        entry = { client, adapters: o.open(client, tenantId) };
        held.set(tenantId, entry);
      }
      return entry.adapters;
    },
    async ids() {
      const rows = await controlPlane.all<{ id: string }>("SELECT id FROM tenants ORDER BY id");
      return rows.map((r) => r.id).filter((id) => LABEL.test(id) || id === o.controlPlaneTenantId);
    },
    isMissing: isNotFound,
    async has(tenantId) {
      // The tenants are the control plane's rows, as ids() reads them.
      return LABEL.test(tenantId) && (await controlPlane.get("SELECT 1 AS found FROM tenants WHERE id = ?", [tenantId])) !== undefined;
    },
    close() {
      held.clear();
      controlPlane.close();
    },
  };
}
