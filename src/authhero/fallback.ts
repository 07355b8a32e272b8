import type { Client, Connection, DataAdapters, EmailProvider } from "@authhero/adapter-interfaces";

type Options = Record<string, unknown>;

/**
 * A child tenant's connection with the control plane's same-strategy connection behind it: option
 * values the tenant does not set come from the control plane (tenant keys win, shallow merge). That
 * is also how secrets the sync strips (`client_secret`, …) reach the tenant at read time.
 */
export function connectionWithFallback(tenant: Connection, controlPlane: Connection | undefined): Connection {
  if (!controlPlane) return tenant;
  const inherited = (controlPlane.options ?? {}) as Options;
  const own = (tenant.options ?? {}) as Options;
  return { ...tenant, options: { ...inherited, ...own } as Connection["options"] };
}

const URL_LISTS = ["callbacks", "web_origins", "allowed_logout_urls", "allowed_origins"] as const;

/**
 * A client whose URL lists start with the control-plane client's, then the tenant's own, without
 * duplicates. Exported for AuthHero's authorize flow; plain `clients.get` returns stored values, so
 * nothing inherited is ever written back.
 */
export function mergeClientWithFallback<C extends Partial<Client>>(client: C, controlPlaneClient: Partial<Client> | null | undefined): C {
  if (!controlPlaneClient) return client;
  const merged = { ...client };
  for (const key of URL_LISTS) {
    const list = [...(controlPlaneClient[key] ?? []), ...(client[key] ?? [])];
    (merged as Record<string, unknown>)[key] = [...new Set(list)];
  }
  return merged;
}

/** Wraps a child tenant's adapters with runtime fallback to its control plane's (read paths only). */
export function withFallback(tenant: DataAdapters, controlPlane: DataAdapters, controlPlaneId: string): DataAdapters {
  const sameStrategy = async (strategy: string | undefined): Promise<Connection | undefined> => {
    if (!strategy) return undefined;
    const { connections } = await controlPlane.connections.list(controlPlaneId);
    return connections.find((c) => c.strategy === strategy);
  };
  const connections: DataAdapters["connections"] = {
    ...tenant.connections,
    async get(tenantId, connectionId) {
      const own = await tenant.connections.get(tenantId, connectionId);
      return own ? connectionWithFallback(own, await sameStrategy(own.strategy)) : own;
    },
    async list(tenantId, params) {
      const page = await tenant.connections.list(tenantId, params);
      const { connections: inherited } = await controlPlane.connections.list(controlPlaneId);
      const byStrategy = new Map(inherited.map((c) => [c.strategy, c]));
      return { ...page, connections: page.connections.map((c) => connectionWithFallback(c, byStrategy.get(c.strategy))) };
    },
  };
  const emailProviders: DataAdapters["emailProviders"] = {
    ...tenant.emailProviders,
    async get(tenantId): Promise<EmailProvider | null> {
      return (await tenant.emailProviders.get(tenantId)) ?? (await controlPlane.emailProviders.get(controlPlaneId));
    },
  };
  return { ...tenant, connections, emailProviders };
}
