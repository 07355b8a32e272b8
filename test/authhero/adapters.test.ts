import { beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import type { Connection, DataAdapters } from "@authhero/adapter-interfaces";
import { createTenantFileAdapters, mergeClientWithFallback, UnknownTenantError, type TenantFileDataAdapters } from "../../src/authhero/index.ts";
import type { SqlDb } from "../../src/storage/sql.ts";
import type { SyncFixture } from "../sync/fixture.ts";
import { CP, STORES, useModuleFixture } from "./module-fixture.ts";
import { sqlAdapters, sqliteAdapters } from "./sqlite-adapters.ts";
import { until } from "../support/until.ts";

// The module AuthHero loads, over tenants provisioned by the gateway's own lifecycle: tenant files,
// and namespaces of a real sqld (libsqlTenantDatabases). What is about files alone (descriptors,
// the data directory) runs on files; the namespaces get their equivalent where there is one.

const conn = (id: string, strategy: string, options: Record<string, unknown>) => ({ id, name: id, strategy, options }) as unknown as Connection;
const count = async (db: SqlDb, id: string) => (await db.get<{ n: number }>("SELECT count(*) AS n FROM connections WHERE id = ?", [id]))?.n;
const jsonColumn = async (db: SqlDb, sql: string) => JSON.parse(Object.values((await db.get(sql)) ?? {})[0] as string);

describe.each(STORES)("on %s", (store) => {
  const fixture = useModuleFixture(store);
  // The current test's deployment (f) and module: what logins get (a), what management gets (m).
  let f: SyncFixture;
  let a: TenantFileDataAdapters;
  let m: TenantFileDataAdapters;
  beforeEach(() => {
    ({ f, a, m } = fixture);
  });

  describe("per-tenant dispatch", () => {
    test("a call goes to the database of the tenant it names, and only there", async () => {
      await a.connections.create("acme", conn("con_a", "oidc", { scope: "openid" }));
      expect((await m.connections.get("acme", "con_a"))?.options).toEqual({ scope: "openid" });
      expect(await m.connections.get("beta", "con_a")).toBeNull();
      expect(await count(fixture.tenantDb("acme"), "con_a")).toBe(1);
      expect(await count(fixture.tenantDb("beta"), "con_a")).toBe(0);
      expect(await count(fixture.tenantDb(CP), "con_a")).toBe(0);
    });

    test.each(["ghost", "../etc", "ACME", "", "a/b"])("tenant %p: reads answer like a missing row, writes and lists throw, no database is made", async (id) => {
      const before = store === "files" ? readdirSync(join(f.dataDir, "tenants")).sort() : [];
      expect(await a.connections.get(id, "con_x")).toBeNull();
      expect(await a.emailProviders.get(id)).toBeNull();
      expect(await a.connections.remove(id, "con_x")).toBe(false);
      expect(a.connections.list(id)).rejects.toBeInstanceOf(UnknownTenantError);
      expect(a.connections.create(id, conn("c", "oidc", {}))).rejects.toBeInstanceOf(UnknownTenantError);
      if (store === "files") expect(readdirSync(join(f.dataDir, "tenants")).sort()).toEqual(before);
      expect(await fixture.holds(id)).toBe(false);
    });

    test("a deleted tenant's database is let go: no writes into it, no old rows under a re-created id", async () => {
      await a.connections.create("acme", conn("con_old", "oidc", {}));
      expect(await m.connections.get("acme", "con_old")).not.toBeNull();
      await f.lifecycle.delete("acme");
      // Files: the module compares what it holds with the path at most every 100 ms.
      await Bun.sleep(150);
      expect(await m.connections.get("acme", "con_old")).toBeNull();
      expect(a.connections.create("acme", conn("con_lost", "oidc", {}))).rejects.toBeInstanceOf(UnknownTenantError);
      await f.lifecycle.create({ id: "acme", friendly_name: "Acme again" });
      await Bun.sleep(150);
      expect(await m.connections.get("acme", "con_old")).toBeNull();
      await a.connections.create("acme", conn("con_new", "oidc", {}));
      // The re-created tenant's own rows: the new connection, none of the old (its first-login
      // database connection aside).
      expect(await fixture.tenantDb("acme").all("SELECT id FROM connections WHERE id IN ('con_old', 'con_new', 'con_lost')")).toEqual([{ id: "con_new" }]);
    });

    test("tenants and keys live in the control plane's database", async () => {
      const { tenants } = (await a.tenants.list()) as unknown as { tenants: { id: string }[] };
      expect(tenants.map((t) => t.id)).toEqual(["acme", "beta", CP]);
      await a.keys.create({ kid: "k1", cert: "c" } as never);
      expect(await fixture.tenantDb(CP).all("SELECT kid, tenant_id FROM keys")).toEqual([{ kid: "k1", tenant_id: null }]);
      expect(await fixture.tenantDb("acme").all("SELECT kid FROM keys")).toEqual([]);
    });

    test("many tenants through a small pool: every call right", async () => {
      for (let i = 0; i < 12; i++) await f.lifecycle.create({ id: `t${i}`, friendly_name: `T${i}` });
      const small = fixture.module({ maxOpen: 3 });
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 12; i++) {
          if (round === 0) await small.dataAdapter.connections.create(`t${i}`, conn(`con_${i}`, "oidc", { n: i }));
          expect((await small.managementDataAdapter.connections.get(`t${i}`, `con_${i}`))?.options as unknown).toEqual({ n: i });
          expect(await small.managementDataAdapter.connections.get(`t${i}`, `con_${(i + 1) % 12}`)).toBeNull();
        }
      }
    });
  });

  if (store === "files") {
    describe("what the module holds of files", () => {
      // What the module holds of files that are gone: this process's descriptors on deleted files under
      // the test's data directory (readlink shows "<path> (deleted)").
      const deletedHeld = () =>
        readdirSync("/proc/self/fd").filter((fd) => {
          try {
            const target = readlinkSync(`/proc/self/fd/${fd}`);
            return target.startsWith(f.dataDir) && target.endsWith(" (deleted)");
          } catch {
            return false;
          }
        }).length;

      test("a purged tenant's file is let go while AuthHero calls for other tenants, though its id is never named again", async () => {
        await a.connections.create("acme", conn("con_a", "oidc", {}));
        await a.connections.create("beta", conn("con_b", "oidc", {}));
        expect(deletedHeld()).toBe(0);
        await f.lifecycle.delete("acme", { purge: true });
        expect(existsSync(join(f.dataDir, "tenants", "acme.sqlite"))).toBe(false);
        // Its file, WAL and shared memory, until the module lets go of them.
        expect(deletedHeld()).toBeGreaterThan(0);
        await until("descriptors on acme's deleted file, with calls for beta only", async () => {
          await m.connections.get("beta", "con_b");
          return deletedHeld();
        }, (n) => n === 0);
      });

      test("a purged tenant's file is let go with no call at all (an idle AuthHero frees the space too)", async () => {
        await a.connections.create("acme", conn("con_a", "oidc", {}));
        await f.lifecycle.delete("acme", { purge: true });
        expect(deletedHeld()).toBeGreaterThan(0);
        await until("descriptors on acme's deleted file, with no call", () => deletedHeld(), (n) => n === 0, 5000);
      });

      test("many tenants through a small pool: descriptors bounded, none left once closed", async () => {
        for (let i = 0; i < 12; i++) await f.lifecycle.create({ id: `t${i}`, friendly_name: `T${i}` });
        const small = createTenantFileAdapters({ dataDir: f.dataDir, controlPlaneTenantId: CP, open: (db) => sqliteAdapters(db), maxOpen: 3 });
        const fds = () => readdirSync("/proc/self/fd").length;
        const start = fds();
        try {
          for (let round = 0; round < 3; round++) {
            for (let i = 0; i < 12; i++) await small.managementDataAdapter.connections.get(`t${i}`, `con_${i}`);
            // Three files open at most, three descriptors each (WAL mode).
            expect(fds() - start).toBeLessThanOrEqual(3 * 3);
          }
        } finally {
          small.close();
        }
        const left = readdirSync("/proc/self/fd").map((fd) => {
          try {
            return readlinkSync(`/proc/self/fd/${fd}`);
          } catch {
            return "?";
          }
        });
        // None of this test's tenant files is held open once the adapters are closed.
        expect(left.filter((p: string) => p.startsWith(join(f.dataDir, "tenants", "t")))).toEqual([]);
      });
    });
  }

  if (store === "namespaces") {
    test("a purged tenant's namespace is gone from the server, and the module's calls for it make none again", async () => {
      await a.connections.create("acme", conn("con_a", "oidc", {}));
      const op = await f.lifecycle.delete("acme", { purge: true });
      expect(op.state).toBe("done");
      expect(await fixture.holds("acme")).toBe(false);
      expect(await fixture.holds(op.input.trash_path as string)).toBe(false);
      // The module still holds acme's client: its calls answer as for an unknown tenant.
      expect(await m.connections.get("acme", "con_a")).toBeNull();
      expect(a.connections.create("acme", conn("con_b", "oidc", {}))).rejects.toBeInstanceOf(UnknownTenantError);
      expect(await fixture.holds("acme")).toBe(false);
    });

    test("a tenant the control plane lists without a namespace is passed over by calls over every tenant", async () => {
      // A row with no namespace: written by AuthHero's own tenants API or a script, or a tenant whose
      // namespace the server lost. Files have no such case: their tenants are the files there are.
      // Its id sorts first, so every pass over the tenants meets it before acme's and beta's.
      const now = new Date().toISOString();
      await fixture.tenantDb(CP).run("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES ('abandoned', 'Abandoned', ?, ?)", [now, now]);
      const cleaned: string[] = [];
      // Clean-ups that really query their tenant's namespace, as AuthHero's do.
      const withCleanups = fixture.module({
        open: (db, tenantId) => {
          const base = sqlAdapters(db) as unknown as Record<string, Record<string, unknown>>;
          const count = async () => (await db.get<{ n: number }>("SELECT count(*) AS n FROM codes"))?.n ?? 0;
          return { ...base, codes: { ...base.codes, cleanup: count }, sessionCleanup: async () => void (await count(), cleaned.push(tenantId)) } as unknown as DataAdapters;
        },
      }).dataAdapter;
      await withCleanups.clients.create("beta", { client_id: "app-beta", name: "B" } as never);
      await withCleanups.codes.create("acme", { code_id: "c1", code_type: "otp", login_id: "l", expires_at: now } as never);
      expect((await withCleanups.clients.getByClientId("app-beta"))?.tenant_id).toBe("beta");
      expect(await withCleanups.clients.getByClientId("nobody")).toBeNull();
      expect(await withCleanups.codes.cleanup?.(now)).toBe(1);
      await withCleanups.sessionCleanup?.();
      expect(cleaned.sort()).toEqual(["acme", "beta", CP]);
      expect(await fixture.holds("abandoned")).toBe(false);
    });
  }

  describe("runtime fallback", () => {
    beforeEach(async () => {
      await a.connections.create(CP, conn("con_cp", "oidc", { client_id: "cp-client", client_secret: "s3cret", scope: "openid profile" }));
      await a.connections.create(CP, conn("con_cp_db", "Username-Password-Authentication", { requires_username: true }));
    });

    test("a tenant connection inherits the options it does not set from the same-strategy control-plane connection", async () => {
      await a.connections.create("acme", conn("con_acme", "oidc", { scope: "openid email" }));
      expect((await a.connections.get("acme", "con_acme"))?.options).toEqual({ client_id: "cp-client", client_secret: "s3cret", scope: "openid email" });
      // What the management API reads: what is stored (no inherited secret).
      expect((await m.connections.get("acme", "con_acme"))?.options).toEqual({ scope: "openid email" });
      // Nothing inherited was written back.
      expect(await jsonColumn(fixture.tenantDb("acme"), "SELECT options FROM connections WHERE id = 'con_acme'")).toEqual({ scope: "openid email" });
    });

    test("list merges each connection, and never adds a control-plane connection the tenant does not have", async () => {
      await a.connections.create("acme", conn("con_acme", "oidc", {}));
      await a.connections.create("acme", conn("con_sms", "sms", { from: "+1" }));
      const { connections } = await a.connections.list("acme");
      expect(connections.map((c) => [c.id, c.options])).toEqual([
        ["con_acme", { client_id: "cp-client", client_secret: "s3cret", scope: "openid profile" }],
        ["con_sms", { from: "+1" }],
      ]);
    });

    test("a client's connections inherit like the connections themselves", async () => {
      await a.connections.create("acme", conn("con_acme", "oidc", { scope: "x" }));
      const list = await a.clientConnections.listByClient("acme", "client_1");
      expect(list.map((c) => c.options)).toEqual([{ client_id: "cp-client", client_secret: "s3cret", scope: "x" }]);
      expect((await m.clientConnections.listByClient("acme", "client_1")).map((c) => c.options)).toEqual([{ scope: "x" }]);
    });

    test("clients.get returns what is stored: control-plane URLs are merged only by mergeClientWithFallback", async () => {
      await fixture.tenantDb(CP).run("INSERT INTO clients (client_id, tenant_id, name, callbacks) VALUES ('app', ?, 'cp app', ?)", [CP, JSON.stringify(["https://cp/cb"])]);
      await fixture.tenantDb("acme").run("INSERT INTO clients (client_id, tenant_id, name, callbacks) VALUES ('app', 'acme', 'acme app', ?)", [JSON.stringify(["https://acme/cb"])]);
      const stored = await a.clients.get("acme", "app");
      expect(stored?.callbacks).toEqual(["https://acme/cb"]);
      expect((mergeClientWithFallback(stored ?? {}, await a.clients.get(CP, "app")) as { callbacks?: string[] }).callbacks).toEqual(["https://cp/cb", "https://acme/cb"]);
    });

    test("email provider: the tenant's, else the control plane's", async () => {
      await a.emailProviders.create(CP, { name: "mailgun", credentials: { api_key: "k" } } as never);
      expect((await a.emailProviders.get("acme"))?.name).toBe("mailgun");
      expect(await m.emailProviders.get("acme")).toBeNull();
      await a.emailProviders.create("beta", { name: "ses", credentials: {} } as never);
      expect((await a.emailProviders.get("beta"))?.name).toBe("ses");
    });

    test("the control plane never merges with itself; a tenant can opt out", async () => {
      expect((await a.connections.get(CP, "con_cp"))?.options).toEqual({ client_id: "cp-client", client_secret: "s3cret", scope: "openid profile" });
      const optedOut = fixture.module({ resolveControlPlane: (t) => (t === "acme" ? null : CP) });
      await optedOut.dataAdapter.connections.create("acme", conn("con_acme", "oidc", { scope: "x" }));
      expect((await optedOut.dataAdapter.connections.get("acme", "con_acme"))?.options).toEqual({ scope: "x" });
      // beta still inherits through the same module.
      await optedOut.dataAdapter.connections.create("beta", conn("con_beta", "oidc", { scope: "x" }));
      expect((await optedOut.dataAdapter.connections.get("beta", "con_beta"))?.options).toEqual({ client_id: "cp-client", client_secret: "s3cret", scope: "x" });
    });

    test("controlPlaneClientId reaches AuthHero's login-time client merge, per tenant; the management API gets none", async () => {
      const withClient = fixture.module({ controlPlaneClientId: "default", resolveControlPlane: (t) => (t === "acme" ? null : CP) });
      // The shape AuthHero's client helper reads: controlPlaneClientId, and a resolver per tenant.
      const config = withClient.dataAdapter.multiTenancyConfig as { controlPlaneClientId?: string; resolveControlPlane?: (p: { tenant_id: string }) => unknown };
      expect(config.controlPlaneClientId).toBe("default");
      expect(config.resolveControlPlane?.({ tenant_id: "beta" })).toEqual({ tenantId: CP, clientId: "default" });
      expect(config.resolveControlPlane?.({ tenant_id: "acme" })).toBeUndefined();
      expect(withClient.managementDataAdapter.multiTenancyConfig).toEqual({ controlPlaneTenantId: CP });
      // Without the option nothing names a client to inherit from.
      expect(a.multiTenancyConfig).toEqual({ controlPlaneTenantId: CP });
    });

    test("issuersOf: a tenant's host under the control plane's and its approved custom domains, as AuthHero's additionalIssuers", async () => {
      await f.cp.insertDomain({ custom_domain_id: "cd_1", tenant_id: "acme", domain: "login.acme.test", status: "ready" });
      await f.cp.insertDomain({ custom_domain_id: "cd_2", tenant_id: "acme", domain: "asked.acme.test", status: "pending_verification" });
      await f.cp.insertDomain({ custom_domain_id: "cd_3", tenant_id: "beta", domain: "login.beta.test", status: "ready" });
      const both = fixture.both;
      expect(await both.issuersOf("acme", "http://localhost:8080/")).toEqual(["http://acme.localhost:8080/", "http://login.acme.test:8080/"]);
      expect(await both.issuersOf("beta", "https://auth.example.com/")).toEqual(["https://beta.auth.example.com/", "https://login.beta.test/"]);
      expect(await both.issuersOf(CP, "http://localhost:8080/")).toEqual([]);
      expect(await both.issuersOf("ghost", "http://localhost:8080/")).toEqual([]);
    });

    test("fallback: false gives the stored data only", async () => {
      const plain = fixture.module({ fallback: false });
      await plain.dataAdapter.connections.create("acme", conn("con_acme", "oidc", {}));
      expect((await plain.dataAdapter.connections.get("acme", "con_acme"))?.options).toEqual({});
    });
  });

  describe("resource servers and hooks", () => {
    test("a synced resource server takes the control plane's scopes, the tenant's overriding by value or added", async () => {
      const cpScopes = [
        { value: "read:users", description: "Read users" },
        { value: "write:users", description: "Write users" },
      ];
      await a.resourceServers.create(CP, { id: "api_1", identifier: "https://api/", name: "API", scopes: cpScopes } as never);
      await a.resourceServers.create("acme", { id: "api_1", identifier: "https://api/", name: "API (acme)", is_system: true, scopes: [{ value: "write:users", description: "Acme's wording" }, { value: "read:acme", description: "Acme only" }] } as never);
      await a.resourceServers.create("acme", { id: "api_own", identifier: "https://own/", name: "Own", scopes: [{ value: "x", description: "x" }] } as never);
      const synced = await a.resourceServers.get("acme", "api_1");
      expect(synced?.name).toBe("API (acme)");
      expect(synced?.scopes).toEqual([
        { value: "read:users", description: "Read users" },
        { value: "write:users", description: "Acme's wording" },
        { value: "read:acme", description: "Acme only" },
      ]);
      // A tenant's own resource server is not touched by fallback.
      expect((await a.resourceServers.get("acme", "api_own"))?.scopes).toEqual([{ value: "x", description: "x" }]);
      const { resource_servers } = await a.resourceServers.list("acme");
      expect(resource_servers.find((r) => r.id === "api_1")?.scopes).toHaveLength(3);
      // Nothing inherited is stored.
      expect(await jsonColumn(fixture.tenantDb("acme"), "SELECT scopes FROM resource_servers WHERE id = 'api_1'")).toHaveLength(2);
    });

    test("inheritable control-plane hooks join a tenant's list unless it has one with that id; get falls back; writes stay the tenant's", async () => {
      await a.hooks.create(CP, { hook_id: "h_shared", url: "https://cp/hook", trigger_id: "post-user-login", metadata: { inheritable: true } } as never);
      await a.hooks.create(CP, { hook_id: "h_private", url: "https://cp/private", trigger_id: "post-user-login", metadata: {} } as never);
      await a.hooks.create(CP, { hook_id: "h_overridden", url: "https://cp/over", trigger_id: "post-user-login", metadata: { inheritable: true } } as never);
      await a.hooks.create("acme", { hook_id: "h_overridden", url: "https://acme/over", trigger_id: "post-user-login" } as never);
      const { hooks, length } = await a.hooks.list("acme");
      expect(hooks.map((h) => [(h as { hook_id: string }).hook_id, (h as { url: string }).url])).toEqual([
        ["h_overridden", "https://acme/over"],
        ["h_shared", "https://cp/hook"],
      ]);
      expect(length).toBe(2);
      expect(((await a.hooks.get("acme", "h_shared")) as { url: string } | null)?.url).toBe("https://cp/hook");
      expect(await a.hooks.get("acme", "h_private")).toBeNull();
      expect((await m.hooks.list("acme")).hooks).toHaveLength(1);
      expect(await fixture.tenantDb(CP).get("SELECT count(*) AS n FROM hooks")).toEqual({ n: 3 });
    });
  });

  test("namespaces and methods are those the adapters have: no thenable namespaces, no phantom methods", async () => {
    const ns = a.connections as unknown as Record<string, unknown>;
    expect(ns.then).toBeUndefined();
    expect(ns.toJSON).toBeUndefined();
    expect(ns.nope).toBeUndefined();
    expect((a as unknown as Record<string, unknown>).nonexistent).toBeUndefined();
    // An async function may return a namespace without it being taken for a promise.
    const get = async () => a.connections;
    expect(typeof (await get()).get).toBe("function");
  });
});

test("mergeClientWithFallback puts control-plane URLs first, then the tenant's, without duplicates", async () => {
  const merged: Record<string, unknown> = mergeClientWithFallback(
    { client_id: "c", callbacks: ["https://acme.test/cb", "https://shared.test/cb"], web_origins: ["https://acme.test"] },
    { callbacks: ["https://shared.test/cb", "https://cp.test/cb"], allowed_logout_urls: ["https://cp.test/out"] },
  );
  expect(merged.callbacks).toEqual(["https://shared.test/cb", "https://cp.test/cb", "https://acme.test/cb"]);
  expect(merged.web_origins).toEqual(["https://acme.test"]);
  expect(merged.allowed_logout_urls).toEqual(["https://cp.test/out"]);
  expect(merged.allowed_origins).toEqual([]);
  expect(mergeClientWithFallback({ client_id: "c", callbacks: ["x"] }, null)).toEqual({ client_id: "c", callbacks: ["x"] });
});

describe("GET /api/v2/tenants/{id}/effective-settings", () => {
  test("every connection option and email-provider field with its value and origin, secrets masked", async () => {
    const { startGateway } = await import("../support/gateway.ts");
    const { createTenants, expectError } = await import("../support/upstream.ts");
    const gw = await startGateway();
    try {
      await createTenants(gw, ["acme", "beta"]);
      const adapters = createTenantFileAdapters({ dataDir: gw.dataDir, controlPlaneTenantId: CP, open: (db) => sqliteAdapters(db) });
      const g = adapters.dataAdapter;
      try {
        await g.connections.create(CP, conn("con_cp", "oidc", { client_id: "cp-client", client_secret: "s3cret", scope: "openid" }));
        await g.connections.create("acme", conn("con_acme", "oidc", { scope: "openid email", prompt: "login" }));
        await g.connections.create("acme", conn("con_sms", "sms", { from: "+1" }));
        await g.emailProviders.create(CP, { name: "mailgun", credentials: { api_key: "key-123" } } as never);
      } finally {
        adapters.close();
      }
      const token = await gw.token();
      const res = await gw.request("localhost", "/api/v2/tenants/acme/effective-settings", { token });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { connections: { id: string; inherits_from: string | null; options: { field: string; value: unknown; origin: string }[] }[]; email_provider: { origin: string; fields: { field: string; value: unknown; origin: string }[] } };
      const oidc = body.connections.find((c) => c.id === "con_acme");
      expect(oidc?.inherits_from).toBe("con_cp");
      expect(oidc?.options).toEqual([
        { field: "client_id", value: "cp-client", origin: "inherited" },
        { field: "client_secret", value: "********", origin: "inherited" },
        { field: "prompt", value: "login", origin: "tenant" },
        { field: "scope", value: "openid email", origin: "overridden" },
      ]);
      expect(body.connections.find((c) => c.id === "con_sms")).toMatchObject({ inherits_from: null, options: [{ field: "from", value: "+1", origin: "tenant" }] });
      expect(body.email_provider.origin).toBe("inherited");
      expect(body.email_provider.fields.find((x) => x.field === "credentials")?.value).toEqual({ api_key: "********" });
      expect(JSON.stringify(body)).not.toContain("s3cret");
      expect(JSON.stringify(body)).not.toContain("key-123");

      await expectError(await gw.request("localhost", "/api/v2/tenants/ghost/effective-settings", { token }), 404, "ghost");
      await expectError(await gw.request("localhost", "/api/v2/tenants/acme/effective-settings", { token: await gw.orgToken("beta", ["read:tenants"]) }), 403, "acme");
      await expectError(await gw.request("localhost", "/api/v2/tenants/acme/effective-settings"), 401, "missing bearer token");
    } finally {
      await gw.stop();
    }
  });
});

test("effective-settings masks every secret of the sync's list: app_secret, and one inside a nested object", async () => {
  const { startGateway } = await import("../support/gateway.ts");
  const gw = await startGateway();
  try {
    const { createTenants } = await import("../support/upstream.ts");
    await createTenants(gw, ["acme"]);
    const adapters = createTenantFileAdapters({ dataDir: gw.dataDir, controlPlaneTenantId: CP, open: (db) => sqliteAdapters(db) });
    try {
      await adapters.dataAdapter.connections.create(CP, conn("con_fb", "facebook", { client_id: "fb-app", app_secret: "cp-app-secret" }));
      await adapters.dataAdapter.connections.create(CP, conn("con_db", "auth0", { configuration: { client_id: "mig", client_secret: "cp-migration-secret" } }));
      await adapters.dataAdapter.connections.create("acme", conn("con_fb", "facebook", {}));
      await adapters.dataAdapter.connections.create("acme", conn("con_db", "auth0", { configuration: { client_id: "mig" }, import_mode: true }));
    } finally {
      adapters.close();
    }
    const res = await gw.request("localhost", "/api/v2/tenants/acme/effective-settings", { token: await gw.token() });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { connections: { id: string; options: { field: string; value: unknown; origin: string }[] }[] };
    expect(body.connections.find((c) => c.id === "con_fb")?.options).toContainEqual({ field: "app_secret", value: "********", origin: "inherited" });
    // The login adapter merges a nested object key by key, so the effective value is the merge.
    expect(body.connections.find((c) => c.id === "con_db")?.options).toContainEqual({ field: "configuration", value: { client_id: "mig", client_secret: "********" }, origin: "overridden" });
    expect(JSON.stringify(body)).not.toContain("cp-");
  } finally {
    await gw.stop();
  }
});
