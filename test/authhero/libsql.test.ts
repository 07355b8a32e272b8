import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Connection } from "@authhero/adapter-interfaces";
import { createTenantFileAdapters, libsqlTenantDatabases, UnknownTenantError, type TenantFileAdapters } from "../../src/authhero/index.ts";
import { BASELINE_SQL } from "../../src/storage/baseline.ts";
import { LibsqlDb, SqldAdmin } from "../../src/storage/libsql.ts";
import { startSqld, type Sqld } from "../support/sqld.ts";
import { EXTRA_TABLES, sqlAdapters } from "./sqlite-adapters.ts";

// The module over a libSQL server instead of tenant files: each tenant a namespace of a real sqld
// started here, AuthHero's adapters (the tests' stand-in, over each namespace's client) made by the
// caller's factory as the example host makes its kysely adapter. Routing, lookups by row,
// transactions, an unknown tenant and the runtime fallback behave as they do over files.

const CP = "control_plane";
let sqld: Sqld;
let module: TenantFileAdapters;
const db = (ns: string) => new LibsqlDb({ url: sqld.url }, ns);
const conn = (id: string, strategy: string, options: Record<string, unknown>) => ({ id, name: id, strategy, options }) as unknown as Connection;

beforeAll(async () => {
  sqld = await startSqld();
  const admin = new SqldAdmin(sqld.adminUrl);
  const now = new Date().toISOString();
  for (const ns of [CP, "acme", "beta"]) {
    await admin.create(ns);
    await db(ns).script(BASELINE_SQL + EXTRA_TABLES);
    await db(ns).run("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES (?, ?, ?, ?)", [ns, ns, now, now]);
  }
  for (const id of ["acme", "beta"]) await db(CP).run("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES (?, ?, ?, ?)", [id, id, now, now]);
  module = createTenantFileAdapters({
    controlPlaneTenantId: CP,
    databases: libsqlTenantDatabases({ server: { url: sqld.url }, controlPlaneTenantId: CP, open: (client, tenantId) => sqlAdapters(new LibsqlDb({ url: sqld.url }, tenantId, undefined, client)) }),
  });
});
afterAll(async () => {
  module?.close();
  await sqld?.dispose();
});

describe("the AuthHero module on libSQL namespaces", () => {
  test("a call goes to the namespace of the tenant it names, and only there", async () => {
    await module.dataAdapter.connections.create("acme", conn("con_a", "oidc", { scope: "openid" }));
    expect(await db("acme").all("SELECT id FROM connections")).toEqual([{ id: "con_a" }]);
    expect(await db("beta").all("SELECT id FROM connections")).toEqual([]);
    expect((await module.managementDataAdapter.connections.get("acme", "con_a"))?.options).toEqual({ scope: "openid" });
    expect(await module.managementDataAdapter.connections.get("beta", "con_a")).toBeNull();
  });

  test("a lookup by row finds it in whichever namespace holds it (the tenants are the control plane's rows)", async () => {
    await module.dataAdapter.clients.create("beta", { client_id: "app-beta", name: "B" } as never);
    await db("acme").run("INSERT INTO clients (client_id, tenant_id, name) VALUES ('app-acme', 'acme', 'A')");
    expect((await module.dataAdapter.clients.getByClientId("app-beta"))?.tenant_id).toBe("beta");
    expect((await module.dataAdapter.clients.getByClientId("app-acme"))?.tenant_id).toBe("acme");
    expect(await module.dataAdapter.clients.getByClientId("nobody")).toBeNull();
  });

  test("a transaction commits in the tenant's namespace; reaching a second tenant commits nothing", async () => {
    await module.dataAdapter.transaction(async (trx) => {
      await trx.connections.create("beta", conn("t1", "auth0", {}));
      await trx.connections.create("beta", conn("t2", "auth0", {}));
    });
    await expect(
      module.dataAdapter.transaction(async (trx) => {
        await trx.connections.create("acme", conn("x1", "auth0", {}));
        await trx.connections.create("beta", conn("x2", "auth0", {}));
      }),
    ).rejects.toThrow(/acme.*beta/);
    expect((await db("beta").all<{ id: string }>("SELECT id FROM connections ORDER BY id")).map((r) => r.id)).toEqual(["t1", "t2"]);
    expect(await db("acme").all("SELECT id FROM connections WHERE id = 'x1'")).toEqual([]);
  });

  test("a tenant the server has no namespace for: reads answer like a missing row, writes throw UnknownTenantError, nothing is made", async () => {
    expect(await module.dataAdapter.connections.get("ghost", "c")).toBeNull();
    await expect(module.dataAdapter.connections.create("ghost", conn("g", "auth0", {}))).rejects.toBeInstanceOf(UnknownTenantError);
    expect(await new SqldAdmin(sqld.adminUrl).exists("ghost")).toBe(false);
  });

  test("runtime fallback reaches across namespaces: logins inherit the control plane's secret, management does not", async () => {
    await module.dataAdapter.connections.create(CP, conn("con_cp", "oidc", { client_id: "cp", client_secret: "cp-secret" }));
    await module.dataAdapter.connections.create("acme", conn("con_oidc", "oidc", { scope: "openid" }));
    expect((await module.dataAdapter.connections.get("acme", "con_oidc"))?.options).toEqual({ client_id: "cp", client_secret: "cp-secret", scope: "openid" });
    expect((await module.managementDataAdapter.connections.get("acme", "con_oidc"))?.options).toEqual({ scope: "openid" });
  });
});
