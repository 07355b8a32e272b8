// The module AuthHero loads (`tenantgate/authhero`): per-tenant files and runtime fallback to the
// control plane. It imports nothing of the gateway's server code, only the SQLite opener.
import type { Database } from "bun:sqlite";
import type { DataAdapters } from "@authhero/adapter-interfaces";
import { join } from "node:path";
import { withFallback, withInheritedScopes } from "./fallback.ts";
import { FileTransaction } from "./file-transaction.ts";
import type { TenantDatabases } from "./tenant-databases.ts";
import { tenantFileIds, TenantFiles } from "./tenant-files.ts";

export { mergeClientWithFallback, connectionWithFallback } from "./fallback.ts";
export { publicIssuer } from "./public-url.ts";
export { libsqlTenantDatabases, type LibsqlTenantDatabasesOptions } from "./libsql-databases.ts";
// A host making its control plane on a libSQL server needs the namespace's client and sqld's admin API.
export { namespaceClient, SqldAdmin, type LibsqlServer } from "../storage/libsql.ts";
export type { TenantDatabases } from "./tenant-databases.ts";
export { migrateTenantFiles, type MigrateTenantFilesOptions, type MigrationPass } from "./migrate-files.ts";
export { migrateTenantNamespaces, type MigrateTenantNamespacesOptions } from "./migrate-namespaces.ts";


interface CommonOptions {
  controlPlaneTenantId: string;
  /** Inherit control-plane settings at read time (default true); false gives both adapters the stored data only. */
  fallback?: boolean;
  /** Which control plane a child tenant inherits from; null opts the tenant out. Default: the one. */
  resolveControlPlane?: (tenantId: string) => string | null;
  /**
   * A control-plane client whose callbacks, web origins, logout URLs and allowed origins every child
   * tenant's clients accept too at login (AuthHero merges them when it reads a client for a login;
   * stored clients never change). Handed to AuthHero as `multiTenancyConfig.controlPlaneClientId`,
   * as `initMultiTenant`'s `controlPlane.clientId` is. None: no client inherits.
   */
  controlPlaneClientId?: string;
}

export interface TenantFilesOptions extends CommonOptions {
  /** The gateway's data directory; tenant files are `<dataDir>/tenants/<id>.sqlite`. */
  dataDir: string;
  /** The caller's factory: AuthHero's adapters over one open tenant file (for example its SQL adapter). */
  open: (database: Database, tenantId: string) => DataAdapters;
  /** Tenant files open at once (default 64). */
  maxOpen?: number;
}

export interface TenantDatabasesOptions extends CommonOptions {
  databases: TenantDatabases;
}

export type TenantFileAdaptersOptions = TenantFilesOptions | TenantDatabasesOptions;

export class UnknownTenantError extends Error {
  constructor(readonly tenantId: unknown) {
    super(`no tenant ${JSON.stringify(tenantId)}`);
    this.name = "UnknownTenantError";
  }
}

/**
 * Namespaces whose calls name no tenant (or whose rows are shared): they live in the control-plane
 * file. `tenants` lists every tenant; `keys` holds the signing keys with no tenant, shared by all;
 * tenant operations are the control plane's records; `cache`, `geo`, `rateLimit`, `emailService`
 * and `smsService` are process services, not tenant data.
 */
const CONTROL_PLANE_NAMESPACES = new Set(["tenants", "keys", "tenantOperations", "tenantOperationEvents", "cache", "geo", "rateLimit", "emailService", "smsService"]);

/**
 * Tenant-scoped namespaces' methods whose first argument is not a tenant id, and how each is
 * answered over the tenant files: the first file that has the row (`first`), every file's rows
 * together (`concat`) or counts summed (`sum`), run in every file (`each`), or the tenant named by
 * the second argument (`second`). Reference: shared/reference/authhero-runtime.md §2.
 */
type Route = "first" | "concat" | "sum" | "each" | "second";
const NOT_TENANT_FIRST: Record<string, Record<string, Route>> = {
  clients: { getByClientId: "first" },
  customDomains: { getByDomain: "first" },
  outbox: { getByIds: "concat", getUnprocessed: "concat", claimEvents: "concat", markProcessed: "each", markRetry: "each", deadLetter: "each", cleanup: "sum", replay: "second" },
  codes: { cleanup: "sum" },
  actionExecutions: { cleanup: "sum" },
};

/** One of the two adapter sets AuthHero is given: a plain `DataAdapters` object over the tenant files. */
export type TenantFileDataAdapters = DataAdapters & { multiTenancyConfig: { controlPlaneTenantId: string; controlPlaneClientId?: string } };

/**
 * What `createTenantFileAdapters` returns: AuthHero's two adapter sets, named as AuthHero's config
 * names them, so spreading the object into `init({...})` or `initMultiTenant({...})` hands over both.
 */
export interface TenantFileAdapters {
  /**
   * For logins, tokens and the login pages: a child tenant inherits the control plane's settings at
   * read time (connection options and secrets, the email provider, inheritable hooks, the scopes of
   * synced resource servers).
   */
  readonly dataAdapter: TenantFileDataAdapters;
  /**
   * For the management API: exactly what each tenant stores, the scopes of its synced resource
   * servers aside. A secret the tenant only inherits, or the hint AuthHero derives from one, never
   * reaches a management answer, and a tenant's own settings read back as it wrote them.
   */
  readonly managementDataAdapter: TenantFileDataAdapters;
  /** Closes every open tenant file. Not enumerable, so a spread hands AuthHero the two adapters only. */
  close(): void;
  /**
   * Every public URL of a tenant as a token issuer, for AuthHero's `additionalIssuers`: its host
   * under the control plane's (`<scheme>://<tenant>.<host>[:port]/`, as tenantgate's
   * `--tenant-issuer`) and each of its approved custom domains on the same scheme and port. AuthHero
   * accepts only the URL a request came in on; tenantgate accepts all of a tenant's on all of its
   * hosts, so without this the two disagreed. The control plane's own is not among them. Not enumerable.
   */
  issuersOf(tenantId: string, controlPlaneIssuer: string): Promise<string[]>;
}

/**
 * How a child tenant's calls see the control plane: with every inherited setting (`login`), with
 * its synced resource servers' scopes only (`management`), or not at all (`stored`).
 */
type View = "login" | "management" | "stored";

type Method = (...args: unknown[]) => Promise<unknown>;
/** Lookups by row remembered at most (oldest out). */
const FOUND_KEPT = 10_000;
type Namespaces = Record<string, Record<string, Method>>;

/** Method names as AuthHero reads them (own names up the prototype chain, not `constructor`). */
function methodNames(ns: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = ns; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const n of Object.getOwnPropertyNames(o)) if (n !== "constructor" && typeof (ns as Record<string, unknown>)[n] === "function") names.add(n);
  }
  return [...names];
}

/**
 * AuthHero's two `DataAdapters` over the tenant files, to spread into its config:
 * `init({ ...createTenantFileAdapters(o), … })`. Both route each call to the file of the tenant it
 * names (the first argument of tenant-scoped methods, `tenant_id`); `dataAdapter` (logins) falls
 * back to the control plane's settings at read time for child tenants, `managementDataAdapter`
 * (the management API) answers what each tenant stores. Each is a plain object: every namespace and
 * method of the factory's adapters is an own enumerable member, so AuthHero's wrappers (which
 * enumerate, spread, bind and wrap it on every request) see them all. An unknown or invalid tenant
 * id never creates a file: reads answer like a missing row (null, false), writes and lists throw
 * UnknownTenantError. The control-plane file must exist when this is called: its adapters say which
 * namespaces exist.
 */
export function createTenantFileAdapters(o: TenantFileAdaptersOptions): TenantFileAdapters {
  const databases = "databases" in o ? o.databases : tenantFiles(o);
  const controlPlaneOf = (tenantId: string) => (o.resolveControlPlane ? o.resolveControlPlane(tenantId) : o.controlPlaneTenantId);
  const shape = databases.get(o.controlPlaneTenantId) as unknown as Record<string, unknown> | undefined;
  if (!shape) {
    const where = "databases" in o ? "in the given databases" : `in ${join(o.dataDir, "tenants")}: start tenantgate on this data directory first`;
    throw new Error(`no control-plane database for "${o.controlPlaneTenantId}" ${where}`);
  }

  const adaptersFor = (tenantId: unknown, view: View): DataAdapters | undefined => {
    const own = databases.get(tenantId);
    if (!own || view === "stored") return own;
    const cpId = controlPlaneOf(tenantId as string);
    // The control plane never merges with itself, and a tenant may opt out.
    if (!cpId || cpId === tenantId) return own;
    const cp = databases.get(cpId);
    if (!cp) return own;
    return view === "login" ? withFallback(own, cp, cpId) : withInheritedScopes(own, cp, cpId);
  };

  /** Tenants to look through for a row found by its own key: the control plane first, then every file. */
  const everyTenant = async () => [o.controlPlaneTenantId, ...(await databases.ids()).filter((id) => id !== o.controlPlaneTenantId)];
  /** Which tenant file answered a lookup by row last (client id, domain): the first one asked next time. */
  const foundIn = new Map<string, string>();
  /**
   * One tenant's part of a call over every tenant. A tenant whose database is not there answers
   * nothing, as a file that is gone has no adapters: on a server the tenants are the control plane's
   * rows, and one row without its namespace must not fail every lookup by row and clean-up.
   */
  const call = async (id: string, namespace: string, method: string, args: unknown[]) => {
    const ns = (databases.get(id) as unknown as Namespaces | undefined)?.[namespace];
    const fn = ns?.[method];
    return fn ? answered(() => fn.apply(ns, args)) : undefined;
  };
  const answered = async (run: () => Promise<unknown> | undefined) => {
    try {
      return await run();
    } catch (err) {
      if (databases.isMissing?.(err)) return undefined;
      throw err;
    }
  };

  /** A call to the file of the tenant the argument at `at` names (the first, for nearly every method). */
  const byTenantArgument = (namespace: string, method: string, at: number, view: View, tx?: FileTransaction): Method => {
    return async (...args) => {
      const tenantId = args[at];
      let adapters = adaptersFor(tenantId, view) as unknown as Namespaces | undefined;
      try {
        if (adapters && tx) adapters = (await tx.adaptersFor(tenantId as string, adapters as unknown as DataAdapters)) as unknown as Namespaces;
        const fn = adapters?.[namespace]?.[method];
        return fn ? await fn.apply(adapters?.[namespace], args) : missing(method, tenantId);
      } catch (err) {
        if (!databases.isMissing?.(err)) throw err;
        // Over files an unknown tenant has no adapters, so a transaction never begins in it; here it
        // began before the server said so, and is let go for the callback's next call to begin anew.
        await tx?.abandon(tenantId as string);
        return missing(method, tenantId);
      }
    };
  };

  const routed = (namespace: string, method: string, route: Route, view: View): Method => {
    switch (route) {
      case "first":
        return async (...args) => {
          const key = `${namespace}.${method}:${JSON.stringify(args)}`;
          const last = foundIn.get(key);
          // Where it was found last is asked first (and checked: the row may have moved or gone).
          const every = await everyTenant();
          for (const id of last === undefined ? every : [last, ...every.filter((t) => t !== last)]) {
            const found = await call(id, namespace, method, args);
            if (found === null || found === undefined) continue;
            foundIn.delete(key);
            foundIn.set(key, id);
            if (foundIn.size > FOUND_KEPT) foundIn.delete(foundIn.keys().next().value as string);
            return found;
          }
          foundIn.delete(key);
          return null;
        };
      case "concat":
        return async (...args) => {
          const all: unknown[] = [];
          for (const id of await everyTenant()) all.push(...(((await call(id, namespace, method, args)) as unknown[] | undefined) ?? []));
          // getUnprocessed(limit): at most `limit` over all files, as over one database.
          return method === "getUnprocessed" && typeof args[0] === "number" ? all.slice(0, args[0]) : all;
        };
      case "sum":
        return async (...args) => {
          let total = 0;
          for (const id of await everyTenant()) total += ((await call(id, namespace, method, args)) as number | undefined) ?? 0;
          return total;
        };
      case "each":
        return async (...args) => {
          for (const id of await everyTenant()) await call(id, namespace, method, args);
        };
      case "second":
        return byTenantArgument(namespace, method, 1, view);
    }
  };

  const build = (view: View, tx?: FileTransaction): TenantFileDataAdapters => {
    const out: Record<string, unknown> = {};
    for (const [namespace, value] of Object.entries(shape)) {
      if (value === undefined || value === null) continue;
      if (typeof value === "function") continue; // transaction, sessionCleanup: below
      const ns: Record<string, Method> = {};
      for (const method of methodNames(value)) {
        if (CONTROL_PLANE_NAMESPACES.has(namespace)) {
          ns[method] = async (...args) => (databases.get(o.controlPlaneTenantId) as unknown as Namespaces)[namespace]![method]!(...args);
        } else if (NOT_TENANT_FIRST[namespace]?.[method] !== undefined) {
          ns[method] = routed(namespace, method, NOT_TENANT_FIRST[namespace]![method]!, view);
        } else {
          ns[method] = byTenantArgument(namespace, method, 0, view, tx);
        }
      }
      out[namespace] = ns;
    }
    const self = out as unknown as TenantFileDataAdapters;
    // Inside a transaction a nested one is the same transaction, as with AuthHero's SQL adapter.
    out.transaction = tx
      ? async <T>(fn: (trx: DataAdapters) => Promise<T>) => fn(self)
      : async <T>(fn: (trx: DataAdapters) => Promise<T>) => {
          const t = new FileTransaction();
          // Like the SQL adapter's, the callback's adapters are the stored data (no fallback).
          const trx = build("stored", t);
          let result: T;
          try {
            result = await fn(trx);
          } catch (err) {
            await t.end(err);
            throw err;
          }
          await t.end();
          return result;
        };
    if (typeof shape.sessionCleanup === "function") {
      out.sessionCleanup = async (params?: { tenant_id?: string; user_id?: string }) => {
        const ids = params?.tenant_id ? [params.tenant_id] : await everyTenant();
        for (const id of ids) await answered(() => (databases.get(id) as unknown as { sessionCleanup?: Method } | undefined)?.sessionCleanup?.(params));
      };
    }
    out.multiTenancyConfig = view === "login" && o.controlPlaneClientId ? loginInheritance : { controlPlaneTenantId: o.controlPlaneTenantId };
    return self;
  };

  // What AuthHero reads to merge the control-plane client's URLs into a child's client at login,
  // in its own shape: the resolver answers per tenant, so an opted-out tenant inherits nothing.
  const loginInheritance = {
    controlPlaneTenantId: o.controlPlaneTenantId,
    controlPlaneClientId: o.controlPlaneClientId,
    resolveControlPlane: ({ tenant_id }: { tenant_id: string }) => {
      const cpId = controlPlaneOf(tenant_id);
      return cpId ? { tenantId: cpId, clientId: o.controlPlaneClientId } : undefined;
    },
  };
  const inherit = o.fallback !== false;
  const adapters = { dataAdapter: build(inherit ? "login" : "stored"), managementDataAdapter: build(inherit ? "management" : "stored") } as TenantFileAdapters;
  Object.defineProperty(adapters, "close", { value: () => databases.close(), enumerable: false });
  Object.defineProperty(adapters, "issuersOf", {
    enumerable: false,
    value: async (tenantId: string, controlPlaneIssuer: string): Promise<string[]> => {
      const base = URL.parse(controlPlaneIssuer);
      if (!base || tenantId === o.controlPlaneTenantId || databases.get(tenantId) === undefined) return [];
      // On a server `get` answers for any valid id: an unknown tenant must have no issuer there either.
      if (databases.has && !(await databases.has(tenantId))) return [];
      const at = (host: string) => `${base.protocol}//${host}${base.port ? `:${base.port}` : ""}/`;
      // Custom domains are the control plane's rows (tenantgate's tenants API writes them there).
      const list = (await call(o.controlPlaneTenantId, "customDomains", "list", [tenantId])) as { domain: string; status: string }[] | undefined;
      return [at(`${tenantId}.${base.hostname}`), ...(list ?? []).filter((d) => d.status === "ready").map((d) => at(d.domain))];
    },
  });
  return adapters;
}

/** The gateway's tenant files as the module's databases. */
function tenantFiles(o: TenantFilesOptions): TenantDatabases {
  const dir = join(o.dataDir, "tenants");
  const files = new TenantFiles(dir, o.controlPlaneTenantId, o.open, Math.max(2, o.maxOpen ?? 64));
  return { get: (id) => files.get(id), ids: () => tenantFileIds(dir, o.controlPlaneTenantId), close: () => files.closeAll() };
}

/** What a call for a tenant that does not exist answers: like a missing row where it can. */
function missing(method: string, tenantId: unknown): Promise<unknown> {
  if (method.startsWith("get")) return Promise.resolve(null);
  if (method === "remove" || method === "update" || method.startsWith("delete")) return Promise.resolve(false);
  return Promise.reject(new UnknownTenantError(tenantId));
}
export { explainFields } from "./explain.ts";
