// The module AuthHero loads (`tenantgate/authhero`): per-tenant files and runtime fallback to the
// control plane. It imports nothing of the gateway's server code, only the SQLite opener.
import type { Database } from "bun:sqlite";
import type { DataAdapters } from "@authhero/adapter-interfaces";
import { join } from "node:path";
import { withFallback } from "./fallback.ts";
import { TenantFiles } from "./tenant-files.ts";

export { mergeClientWithFallback, connectionWithFallback } from "./fallback.ts";

export interface TenantFileAdaptersOptions {
  /** The gateway's data directory; tenant files are `<dataDir>/tenants/<id>.sqlite`. */
  dataDir: string;
  controlPlaneTenantId: string;
  /** The caller's factory: AuthHero's adapters over one open tenant file (for example its SQL adapter). */
  open: (database: Database, tenantId: string) => DataAdapters;
  /** Inherit control-plane settings at read time (default true); false gives the stored data only. */
  fallback?: boolean;
  /** Which control plane a child tenant inherits from; null opts the tenant out. Default: the one. */
  resolveControlPlane?: (tenantId: string) => string | null;
  /** Tenant files open at once (default 64). */
  maxOpen?: number;
}

export class UnknownTenantError extends Error {
  constructor(readonly tenantId: unknown) {
    super(`no tenant ${JSON.stringify(tenantId)}`);
    this.name = "UnknownTenantError";
  }
}

/**
 * Namespaces whose calls name no tenant (or whose rows are shared): they live in the control-plane
 * file. `tenants` lists every tenant; `keys` holds the signing keys with no tenant, shared by all;
 * `cache` and `geo` are process services, not tenant data.
 */
const CONTROL_PLANE_NAMESPACES = new Set(["tenants", "keys", "cache", "geo"]);

export type TenantFileAdapters = DataAdapters & {
  /** The same adapters without fallback: what management reads must see (no inherited secrets). */
  readonly raw: DataAdapters;
  /** Closes every open tenant file. */
  close(): void;
};

/**
 * AuthHero `DataAdapters` that route each call to the file of the tenant it names (the first
 * argument of tenant-scoped methods, `tenant_id`) and, for child tenants, fall back to the control
 * plane's settings at read time. An unknown or invalid tenant id never creates a file: reads answer
 * like a missing row (null, false), writes and lists throw UnknownTenantError.
 */
export function createTenantFileAdapters(o: TenantFileAdaptersOptions): TenantFileAdapters {
  const files = new TenantFiles(join(o.dataDir, "tenants"), o.controlPlaneTenantId, o.open, Math.max(2, o.maxOpen ?? 64));
  const controlPlaneOf = (tenantId: string) => (o.resolveControlPlane ? o.resolveControlPlane(tenantId) : o.controlPlaneTenantId);

  const adaptersFor = (tenantId: unknown, withInheritance: boolean): DataAdapters | undefined => {
    const own = files.get(tenantId);
    if (!own || !withInheritance) return own;
    const cpId = controlPlaneOf(tenantId as string);
    // The control plane never merges with itself, and a tenant may opt out.
    if (!cpId || cpId === tenantId) return own;
    const cp = files.get(cpId);
    return cp ? withFallback(own, cp, cpId) : own;
  };

  const build = (withInheritance: boolean): DataAdapters =>
    new Proxy({} as DataAdapters, {
      get(_target, namespace) {
        if (typeof namespace !== "string") return undefined;
        if (CONTROL_PLANE_NAMESPACES.has(namespace)) {
          return (files.get(o.controlPlaneTenantId) as Record<string, unknown> | undefined)?.[namespace];
        }
        // Every tenant's adapters come from the same factory: the control plane's say which
        // namespaces and methods exist (so `then`, `toJSON` and typos are not mistaken for calls).
        const shape = (files.get(o.controlPlaneTenantId) as Record<string, Record<string, unknown>> | undefined)?.[namespace];
        if (!shape) return undefined;
        return new Proxy(
          {},
          {
            get(_ns, method) {
              if (typeof method !== "string" || typeof shape[method] !== "function") return undefined;
              return (tenantId: unknown, ...rest: unknown[]) => {
                const adapters = adaptersFor(tenantId, withInheritance) as Record<string, Record<string, (...a: unknown[]) => unknown>> | undefined;
                const fn = adapters?.[namespace]?.[method];
                return fn ? fn.call(adapters?.[namespace], tenantId, ...rest) : missing(method, tenantId);
              };
            },
          },
        );
      },
    });

  const adapters = build(o.fallback !== false);
  const raw = o.fallback === false ? adapters : build(false);
  return new Proxy(adapters, {
    get(target, key, receiver) {
      if (key === "raw") return raw;
      if (key === "close") return () => files.closeAll();
      return Reflect.get(target, key, receiver);
    },
  }) as TenantFileAdapters;
}

/** What a call for a tenant that does not exist answers: like a missing row where it can. */
function missing(method: string, tenantId: unknown): Promise<unknown> {
  if (method.startsWith("get")) return Promise.resolve(null);
  if (method === "remove" || method === "update" || method.startsWith("delete")) return Promise.resolve(false);
  return Promise.reject(new UnknownTenantError(tenantId));
}
