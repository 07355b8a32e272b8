import { beforeEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import type { Connection, DataAdapters } from "@authhero/adapter-interfaces";
import { clientSchema, codeSchema, connectionSchema, emailProviderSchema, hookSchema, resourceServerSchema, tenantSchema } from "@authhero/adapter-interfaces";
import { UnknownTenantError, type TenantFileAdapters, type TenantFileDataAdapters } from "./index.ts";
import { CP, STORES, useModuleFixture } from "../../test/authhero/module-fixture.ts";
import { sqlAdapters } from "../../test/authhero/sqlite-adapters.ts";
import { BunSqlDb } from "../storage/sql.ts";

// The module treated the way AuthHero 9.6.1 treats its DataAdapters (shared/reference/
// authhero-runtime.md §1): enumerated, spread, bound and wrapped on every request, `transaction`
// called with callbacks that nest and fail, methods called without a tenant id. The same suite on
// both stores: tenant files, and namespaces of a real sqld (libsqlTenantDatabases).

type Namespace = Record<string, (...args: unknown[]) => Promise<unknown>>;

/** Method names as AuthHero's getAdapterMethodNames reads them: own names up the prototype chain. */
function methodNames(ns: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = ns; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const n of Object.getOwnPropertyNames(o)) if (n !== "constructor" && typeof (ns as Record<string, unknown>)[n] === "function") names.add(n);
  }
  return [...names];
}

/**
 * What AuthHero's timing, caching and dedup wrappers do to the object: `Object.entries` at the top,
 * functions passed through, every other value rebuilt as a plain object whose methods are bound to
 * the original namespace and wrapped in an async function; then the hooks wrapper's spread.
 */
function wrapLikeAuthHero(data: DataAdapters): DataAdapters {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined || value === null) continue;
    if (typeof value === "function") {
      out[key] = value;
      continue;
    }
    const ns: Record<string, unknown> = {};
    for (const name of methodNames(value)) {
      const bound = (value as Namespace)[name]!.bind(value);
      ns[name] = async (...args: unknown[]) => bound(...args);
    }
    for (const [k, v] of Object.entries(value)) if (typeof v !== "function") ns[k] = v;
    out[key] = ns;
  }
  const wrapped = out as unknown as DataAdapters;
  return { ...wrapped, connections: { ...wrapped.connections } };
}

const conn = (id: string) => ({ id, name: id, strategy: "auth0", options: { v: id } }) as unknown as Connection;

/** A schema as the checks below use one. */
type ZodType = { safeParse(v: unknown): { success: true } | { success: false; error: { issues: unknown[] } } };
/** One check per element of a list; an empty list is one failing check, so it cannot pass unseen. */
const each = (what: string, schema: ZodType, list: readonly unknown[]): [string, ZodType, unknown][] =>
  list.length === 0 ? [[`${what} (empty)`, schema, undefined]] : list.map((v) => [what, schema, v]);

/** The connections a tenant's database holds, read beside the module. */
const idsIn = async (db: { all<T>(sql: string): Promise<T[]> }) => (await db.all<{ id: string }>("SELECT id FROM connections ORDER BY id")).map((r) => r.id);

describe.each(STORES)("on %s", (store) => {
  const fixture = useModuleFixture(store);
  // The current test's module: what logins get (a), the whole result (both).
  let a: TenantFileDataAdapters;
  let both: TenantFileAdapters;
  beforeEach(() => {
    ({ a, both } = fixture);
  });

  describe("the objects AuthHero gets", () => {
    test("spread into AuthHero's config, the result is its two adapter sets and nothing else", () => {
      expect(Object.keys({ ...both }).sort()).toEqual(["dataAdapter", "managementDataAdapter"]);
      expect(typeof both.close).toBe("function");
    });

    test.each(["dataAdapter", "managementDataAdapter"] as const)("%s: every namespace of the factory's adapters is an own enumerable member, with its methods", (which) => {
      const data = both[which];
      const factory = sqlAdapters(new BunSqlDb(new Database(":memory:"))) as unknown as Record<string, unknown>;
      const keys = Object.keys(data);
      for (const [name, value] of Object.entries(factory)) {
        expect(keys).toContain(name);
        if (typeof value === "function") expect(typeof (data as unknown as Record<string, unknown>)[name]).toBe("function");
        else expect(methodNames((data as unknown as Record<string, object>)[name]!).sort()).toEqual(methodNames(value as object).sort());
      }
      // AuthHero's cross-tenant guard reads it from the adapters of the app it runs in (both apps).
      expect(keys).toContain("multiTenancyConfig");
      expect(data.multiTenancyConfig).toEqual({ controlPlaneTenantId: CP });
    });

    test("spread, bound and wrapped as AuthHero does, calls still reach the right tenant's database", async () => {
      const data = wrapLikeAuthHero(a);
      await data.connections.create("acme", conn("c1"));
      await data.connections.create("beta", conn("c2"));
      expect((await data.connections.list("acme")).connections.map((c) => c.id)).toEqual(["c1"]);
      expect((await data.connections.list("beta")).connections.map((c) => c.id)).toEqual(["c2"]);
      expect(await idsIn(fixture.tenantDb("acme"))).toEqual(["c1"]);
      expect(await idsIn(fixture.tenantDb("beta"))).toEqual(["c2"]);
      expect((await data.tenants.list()).tenants.map((t) => t.id).sort()).toEqual(["acme", "beta", CP]);
    });
  });

  describe("transaction", () => {
    test("commits within the tenant database the callback works on", async () => {
      const data = wrapLikeAuthHero(a);
      const result = await data.transaction(async (trx) => {
        await trx.connections.create("acme", conn("t1"));
        await trx.connections.create("acme", conn("t2"));
        return "done";
      });
      expect(result).toBe("done");
      expect((await a.connections.list("acme")).connections.map((c) => c.id)).toEqual(["t1", "t2"]);
      expect(await idsIn(fixture.tenantDb("acme"))).toEqual(["t1", "t2"]);
    });

    test("a throw rolls back everything the callback wrote, nested callbacks included", async () => {
      await expect(
        a.transaction(async (trx) => {
          await trx.connections.create("acme", conn("r1"));
          await trx.transaction(async (inner) => {
            await inner.connections.create("acme", conn("r2"));
          });
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      expect((await a.connections.list("acme")).connections).toEqual([]);
      expect(await idsIn(fixture.tenantDb("acme"))).toEqual([]);
    });

    test("a nested callback runs in the same transaction and sees its writes", async () => {
      await a.transaction(async (trx) => {
        await trx.connections.create("acme", conn("n1"));
        const seen = await trx.transaction(async (inner) => (await inner.connections.list("acme")).connections.map((c) => c.id));
        expect(seen).toEqual(["n1"]);
        // Not committed yet: another connection does not see it.
        expect(await idsIn(fixture.tenantDb("acme"))).toEqual([]);
      });
      expect((await a.connections.list("acme")).connections.map((c) => c.id)).toEqual(["n1"]);
    });

    test("a callback that reaches a second tenant gets a clear error and commits nothing", async () => {
      await expect(
        a.transaction(async (trx) => {
          await trx.connections.create("acme", conn("x1"));
          await trx.connections.create("beta", conn("x2"));
        }),
      ).rejects.toThrow(/one tenant file.*acme.*beta/);
      expect((await a.connections.list("acme")).connections).toEqual([]);
      expect((await a.connections.list("beta")).connections).toEqual([]);
    });

    test("a callback that names no tenant still runs; an unknown tenant is answered as outside one, and the callback goes on", async () => {
      expect(await a.transaction(async () => 42)).toBe(42);
      await expect(a.transaction(async (trx) => trx.connections.create("ghost", conn("g")))).rejects.toBeInstanceOf(UnknownTenantError);
      // Naming it begins nothing: the transaction begins in the tenant the callback goes on to work in.
      const answers = await a.transaction(async (trx) => {
        const found = await trx.connections.get("ghost", "g");
        const refused = await trx.connections.create("ghost", conn("g")).catch((err: unknown) => err);
        await trx.connections.create("acme", conn("after_ghost"));
        return { found, refused };
      });
      expect(answers.found).toBeNull();
      expect(answers.refused).toBeInstanceOf(UnknownTenantError);
      expect(await idsIn(fixture.tenantDb("acme"))).toEqual(["after_ghost"]);
      expect(await fixture.holds("ghost")).toBe(false);
    });
  });

  describe("what the module answers, AuthHero's schemas accept", () => {
    // AuthHero parses what its adapters answer with these (initMultiTenant parses a child tenant's
    // connections on every login); whatever the store, the module's answers must pass, inherited
    // values merged in included. Not keys or custom domains: AuthHero's own SQL adapter answers
    // them with NULL columns its schemas reject (shared/reference/authhero-runtime.md §3.8, §3.9),
    // and the module passes them through untouched.
    const now = new Date().toISOString();
    beforeEach(async () => {
      await a.connections.create(CP, { id: "con_cp", name: "corp", strategy: "oidc", options: { client_id: "cp", client_secret: "cp-secret" } } as never);
      await a.connections.create("acme", { id: "con_acme", name: "corp", strategy: "oidc", options: { scope: "openid" } } as never);
      await a.clients.create("acme", { client_id: "app", name: "App" } as never);
      await a.resourceServers.create(CP, { id: "api_1", identifier: "https://api/", name: "API", scopes: [{ value: "read:users", description: "Read users" }] } as never);
      await a.resourceServers.create("acme", { id: "api_1", identifier: "https://api/", name: "API", is_system: true, scopes: [{ value: "read:acme", description: "Acme only" }] } as never);
      await a.hooks.create(CP, { hook_id: "h_cp", url: "https://cp.test/hook", trigger_id: "post-user-login", metadata: { inheritable: true } } as never);
      await a.hooks.create("acme", { hook_id: "h_acme", url: "https://acme.test/hook", trigger_id: "post-user-login" } as never);
      await a.emailProviders.create(CP, { name: "mailgun", credentials: { api_key: "key" } } as never);
      await a.codes.create("acme", { code_id: "code_1", code_type: "otp", login_id: "login_1", expires_at: now } as never);
    });

    test.each(["dataAdapter", "managementDataAdapter"] as const)("%s: every get and list parses", async (which) => {
      const d = both[which];
      const answers: [string, ZodType, unknown][] = [
        ["connections.get", connectionSchema, await d.connections.get("acme", "con_acme")],
        ["connections.get (control plane)", connectionSchema, await d.connections.get(CP, "con_cp")],
        ...each("connections.list", connectionSchema, (await d.connections.list("acme")).connections),
        ...each("clientConnections.listByClient", connectionSchema, await d.clientConnections.listByClient("acme", "app")),
        ["clients.get", clientSchema, await d.clients.get("acme", "app")],
        ["clients.getByClientId", clientSchema, await d.clients.getByClientId("app")],
        ["resourceServers.get", resourceServerSchema, await d.resourceServers.get("acme", "api_1")],
        ...each("resourceServers.list", resourceServerSchema, (await d.resourceServers.list("acme")).resource_servers),
        ["hooks.get", hookSchema, await d.hooks.get("acme", "h_acme")],
        ...each("hooks.list", hookSchema, (await d.hooks.list("acme")).hooks),
        ["emailProviders.get (control plane)", emailProviderSchema, await d.emailProviders.get(CP)],
        ["codes.get", codeSchema, await d.codes.get("acme", "code_1", "otp")],
        ["tenants.get", tenantSchema, await d.tenants.get("acme")],
        ...each("tenants.list", tenantSchema, (await d.tenants.list()).tenants),
      ];
      if (which === "dataAdapter") {
        // What only logins see: the control plane's settings, merged in or answered for the tenant.
        answers.push(["emailProviders.get (inherited)", emailProviderSchema, await d.emailProviders.get("acme")]);
        answers.push(["hooks.get (inherited)", hookSchema, await d.hooks.get("acme", "h_cp")]);
        expect((await d.connections.get("acme", "con_acme"))?.options).toMatchObject({ client_secret: "cp-secret" });
      }
      const rejected = answers.flatMap(([what, schema, value]) => {
        const parsed = schema.safeParse(value);
        return parsed.success ? [] : [{ what, value, issues: parsed.error.issues }];
      });
      expect(rejected).toEqual([]);
    });
  });

  describe("methods whose first argument is not a tenant id", () => {
    test("clients.getByClientId finds the client in whichever tenant database holds it, also one a script wrote", async () => {
      await a.clients.create("acme", { client_id: "app-acme", name: "A" } as never);
      await fixture.tenantDb("beta").run("INSERT INTO clients (client_id, tenant_id, name) VALUES ('app-beta', 'beta', 'B')");
      expect((await a.clients.getByClientId("app-acme"))?.tenant_id).toBe("acme");
      expect((await a.clients.getByClientId("app-beta"))?.tenant_id).toBe("beta");
      expect(await a.clients.getByClientId("nobody")).toBeNull();
    });

    test("methods that work over every tenant (retention clean-ups) sum their counts; `second` routes by the second argument", async () => {
      let cleaned: string[] = [];
      const counting = fixture.module({
        open: (db, tenantId) => {
          const base = sqlAdapters(db) as unknown as Record<string, unknown>;
          return {
            ...base,
            codes: { cleanup: async () => (cleaned.push(tenantId), 2) },
            outbox: { replay: async () => tenantId },
          } as unknown as DataAdapters;
        },
      });
      expect(await counting.dataAdapter.codes.cleanup?.("2026-01-01T00:00:00.000Z")).toBe(6);
      expect(cleaned.sort()).toEqual(["acme", "beta", CP]);
      cleaned = [];
      expect(await counting.dataAdapter.outbox?.replay("evt_1", "beta")).toBe("beta" as never);
    });
  });
});
