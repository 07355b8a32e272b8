import type { Client, Connection, DataAdapters, EmailProvider, Hook, ResourceServer } from "@authhero/adapter-interfaces";

type Options = Record<string, unknown>;

/**
 * A child tenant's connection with the control plane's same-strategy connection behind it: option
 * values the tenant does not set come from the control plane (tenant keys win). That is also how
 * secrets the sync strips (`client_secret`, `configuration.client_secret`, …) reach the tenant at
 * read time, so a nested object is merged key by key too: a synced copy's `configuration` without
 * its secret must not hide the control plane's.
 */
export function connectionWithFallback(tenant: Connection, controlPlane: Connection | undefined): Connection {
  if (!controlPlane) return tenant;
  const inherited = (controlPlane.options ?? {}) as Options;
  const own = (tenant.options ?? {}) as Options;
  return { ...tenant, options: mergeOptions(inherited, own) as Connection["options"] };
}

const isPlainObject = (v: unknown): v is Options => typeof v === "object" && v !== null && !Array.isArray(v);

/** `own` over `inherited`: own values win, nested plain objects are merged the same way, arrays are values. */
export function mergeOptions(inherited: Options, own: Options): Options {
  const merged: Options = { ...inherited };
  for (const [key, value] of Object.entries(own)) {
    merged[key] = isPlainObject(value) && isPlainObject(inherited[key]) ? mergeOptions(inherited[key], value) : value;
  }
  return merged;
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

type Scope = NonNullable<ResourceServer["scopes"]>[number];

/**
 * A synced resource server (`is_system`) takes the control plane's same-id scopes, with the tenant's
 * own scopes overriding by `value` or appended; its other fields stay the tenant's.
 */
export function resourceServerWithFallback(tenant: ResourceServer, controlPlane: ResourceServer | null | undefined): ResourceServer {
  if (!tenant.is_system || !controlPlane) return tenant;
  const scopes = new Map<string, Scope>();
  for (const s of controlPlane.scopes ?? []) scopes.set(s.value, s);
  for (const s of tenant.scopes ?? []) scopes.set(s.value, s);
  return { ...tenant, scopes: [...scopes.values()] };
}

const inheritable = (hook: Hook) => (hook as { metadata?: Record<string, unknown> }).metadata?.inheritable === true;
const hookId = (hook: Hook) => (hook as { hook_id?: string }).hook_id;

/** Wraps a child tenant's adapters with runtime fallback to its control plane's (read paths only). */
export function withFallback(tenant: DataAdapters, controlPlane: DataAdapters, controlPlaneId: string): DataAdapters {
  /** Each connection merged with the control plane's connection of its strategy (one list read). */
  const inheritAll = async (own: Connection[]): Promise<Connection[]> => {
    if (own.length === 0) return own;
    const { connections: inherited } = await controlPlane.connections.list(controlPlaneId);
    const byStrategy = new Map(inherited.map((c) => [c.strategy, c]));
    return own.map((c) => connectionWithFallback(c, byStrategy.get(c.strategy)));
  };
  const connections: DataAdapters["connections"] = {
    ...tenant.connections,
    async get(tenantId, connectionId) {
      const own = await tenant.connections.get(tenantId, connectionId);
      return own ? ((await inheritAll([own]))[0] as Connection) : own;
    },
    async list(tenantId, params) {
      const page = await tenant.connections.list(tenantId, params);
      return { ...page, connections: await inheritAll(page.connections) };
    },
  };
  // A client's enabled connections are the same connections, so they inherit the same way.
  const clientConnections: DataAdapters["clientConnections"] = {
    ...tenant.clientConnections,
    async listByClient(tenantId, clientId) {
      return inheritAll(await tenant.clientConnections.listByClient(tenantId, clientId));
    },
  };
  const emailProviders: DataAdapters["emailProviders"] = {
    ...tenant.emailProviders,
    async get(tenantId): Promise<EmailProvider | null> {
      return (await tenant.emailProviders.get(tenantId)) ?? (await controlPlane.emailProviders.get(controlPlaneId));
    },
  };
  // Inheritable control-plane hooks (`metadata.inheritable === true`) run for every child tenant,
  // unless the tenant has its own with the same id. Writes stay the tenant's own.
  const hooks: DataAdapters["hooks"] = {
    ...tenant.hooks,
    async get(tenantId, id) {
      const own = await tenant.hooks.get(tenantId, id);
      if (own) return own;
      const shared = await controlPlane.hooks.get(controlPlaneId, id);
      return shared && inheritable(shared) ? shared : null;
    },
    async list(tenantId, params) {
      const page = await tenant.hooks.list(tenantId, params);
      const { hooks: shared } = await controlPlane.hooks.list(controlPlaneId);
      const ownIds = new Set(page.hooks.map(hookId));
      const added = shared.filter((h) => inheritable(h) && !ownIds.has(hookId(h)));
      const total = page.total === undefined ? undefined : page.total + added.length;
      return { ...page, hooks: [...page.hooks, ...added], length: page.length + added.length, ...(total === undefined ? {} : { total }) };
    },
  };
  return { ...tenant, connections, clientConnections, emailProviders, resourceServers: inheritedScopes(tenant, controlPlane, controlPlaneId), hooks };
}

/**
 * A child tenant's stored data, with only the control plane's scopes on its synced resource servers:
 * what AuthHero's management API reads. Scopes are no secret, and a tenant's admin must see the
 * scopes its tokens can carry; everything else (connection options, the email provider, hooks) is
 * exactly what the tenant stores, so nothing the tenant inherits at login time (a secret, or the
 * masked hint AuthHero derives from one) reaches a management answer.
 */
export function withInheritedScopes(tenant: DataAdapters, controlPlane: DataAdapters, controlPlaneId: string): DataAdapters {
  return { ...tenant, resourceServers: inheritedScopes(tenant, controlPlane, controlPlaneId) };
}

function inheritedScopes(tenant: DataAdapters, controlPlane: DataAdapters, controlPlaneId: string): DataAdapters["resourceServers"] {
  return {
    ...tenant.resourceServers,
    async get(tenantId, id) {
      const own = await tenant.resourceServers.get(tenantId, id);
      return own?.is_system ? resourceServerWithFallback(own, await controlPlane.resourceServers.get(controlPlaneId, id)) : own;
    },
    async list(tenantId, params) {
      const page = await tenant.resourceServers.list(tenantId, params);
      if (!page.resource_servers.some((r) => r.is_system)) return page;
      const { resource_servers: inherited } = await controlPlane.resourceServers.list(controlPlaneId);
      const byId = new Map(inherited.map((r) => [r.id, r]));
      return { ...page, resource_servers: page.resource_servers.map((r) => resourceServerWithFallback(r, byId.get(r.id))) };
    },
  };
}
