import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { createTenants, expectError, json, rawRequest, startUpstream, type UpstreamDouble } from "../support/upstream.ts";

// Synced copies (is_system = 1) in a child tenant's file cannot be changed through the gateway,
// however the request is spelled; tenant-owned entities and the control plane's stay writable.

let up: UpstreamDouble;
let gw: TestGateway;
let token: string;
const ACME = "acme.localhost";
const IDENTIFIER = "https://api.example.com/";

function seed(file: string, tenant: string, isSystem: 0 | 1, suffix: string, names: { rs: string; role: string; con: string }): void {
  const db = new Database(file);
  try {
    const now = new Date().toISOString();
    db.query("INSERT INTO resource_servers (id, tenant_id, identifier, name, is_system, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)").run(`api_${suffix}`, tenant, names.rs, `RS ${suffix}`, isSystem, now, now);
    db.query("INSERT INTO roles (id, tenant_id, name, is_system, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)").run(`rol_${suffix}`, tenant, names.role, isSystem, now, now);
    db.query("INSERT INTO connections (id, tenant_id, name, strategy, is_system, created_at, updated_at) VALUES (?, ?, ?, 'Username-Password-Authentication', ?, ?, ?)").run(`con_${suffix}`, tenant, names.con, isSystem, now, now);
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  up = startUpstream();
  gw = await startGateway(["--upstream", up.url]);
  await createTenants(gw, ["acme", "beta"]);
  const tenants = join(gw.dataDir, "tenants");
  // What the outbox writes into a child tenant: copies marked is_system = 1.
  seed(join(tenants, "acme.sqlite"), "acme", 1, "sync", { rs: IDENTIFIER, role: "admin", con: "shared-db" });
  seed(join(tenants, "acme.sqlite"), "acme", 0, "own", { rs: "https://own.acme.test/", role: "acme-only", con: "acme-db" });
  // AuthHero's own system entities on the control plane are not the gateway's business.
  seed(join(tenants, "control_plane.sqlite"), "control_plane", 1, "cp", { rs: "https://cp.example.com/", role: "cp-admin", con: "cp-db" });
  token = await gw.orgToken("acme", ["update:roles", "delete:roles"]);
  up.take();
});
afterAll(async () => {
  await gw?.stop();
  up?.stop();
});

const synced = ["/api/v2/resource-servers/api_sync", "/api/v2/roles/rol_sync", "/api/v2/connections/con_sync"];

async function refused(res: Response, status = 403, ...fragments: string[]): Promise<void> {
  await expectError(res, status, ...fragments);
  expect(up.take()).toEqual([]);
}

describe("writes to synced copies are refused", () => {
  for (const path of synced) {
    test.each(["PATCH", "PUT", "DELETE"])(`%s ${path} → 403`, async (method) => {
      await refused(await gw.request(ACME, path, { method, token, ...json({ name: "changed" }) }), 403, "synced from the control plane", 'tenant "acme"', "change it on the control plane");
    });
  }

  test.each(["POST", "DELETE", "PUT", "PATCH"])("%s /api/v2/roles/rol_sync/permissions → 403", async (method) => {
    const body = { permissions: [{ resource_server_identifier: IDENTIFIER, permission_name: "read:x" }] };
    await refused(await gw.request(ACME, "/api/v2/roles/rol_sync/permissions", { method, token, ...json(body) }), 403, 'role "admin" (rol_sync)');
  });

  test("sub-resources of a synced connection or resource server are covered", async () => {
    await refused(await gw.request(ACME, "/api/v2/connections/con_sync/status", { method: "PATCH", token, ...json({}) }));
    await refused(await gw.request(ACME, "/api/v2/resource-servers/api_sync/anything/deeper", { method: "POST", token, ...json({}) }));
  });

  test("a resource server addressed by its identifier, %2F-encoded, is the same resource server", async () => {
    await refused(await gw.request(ACME, `/api/v2/resource-servers/${encodeURIComponent(IDENTIFIER)}`, { method: "PATCH", token, ...json({}) }), 403, `resource server "RS sync" (api_sync)`);
  });
});

describe("spellings and tricks do not get past", () => {
  const spellings = [
    "/api/v2/roles/rol_sync/",
    "/api/v2/roles/rol_sync//",
    "//api//v2//roles//rol_sync",
    "/api/v2/./roles/./rol_sync",
    "/api/v2/users/../roles/rol_sync",
    "/api/v2/%72oles/%72ol_sync",
    "/%61pi/v2/roles/rol_sync",
    "/API/V2/ROLES/rol_sync",
    "/api/v2/Roles/rol_sync",
    "/api/v2\\roles\\rol_sync",
    "/api/v2/roles%2Frol_sync",
    "/api/v2/roles/rol_sync%2F",
    "/api/v2/roles/rol_sync?x=1",
    "/api/v2/roles/rol_sync/permissions/",
  ];
  test.each(spellings)("DELETE %s → 403 (raw bytes on the wire)", async (target) => {
    const res = await rawRequest(gw.gateway.port, target, { host: ACME, authorization: `Bearer ${token}` }, "DELETE");
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).message).toContain("synced from the control plane");
    expect(up.take()).toEqual([]);
  });

  test.each(["patch", "Patch", "delete", "put"])("the method %p in any case never reaches the upstream", async (method) => {
    // Bun's HTTP parser already drops non-canonical methods; the guard upper-cases whatever it gets.
    const res = await rawRequest(gw.gateway.port, "/api/v2/roles/rol_sync", { host: ACME, authorization: `Bearer ${token}`, "content-type": "application/json" }, method, "{}");
    expect(res.status >= 200 && res.status < 300).toBe(false);
    expect(up.take()).toEqual([]);
  });

  test.each(["x-http-method-override", "x-http-method", "x-method-override"])("GET or POST with %s: DELETE → 403", async (header) => {
    await refused(await gw.request(ACME, "/api/v2/roles/rol_sync", { method: "POST", token, headers: { [header]: "DELETE" } }));
    await refused(await gw.request(ACME, "/api/v2/roles/rol_sync", { method: "GET", token, headers: { [header]: "PATCH" } }));
  });

  test("a _method=DELETE query parameter → 403", async () => {
    await refused(await gw.request(ACME, "/api/v2/roles/rol_sync?_method=DELETE", { method: "POST", token }));
  });

  test("override headers never reach the upstream even on allowed requests", async () => {
    const res = await gw.request(ACME, "/api/v2/roles/rol_own", { method: "PATCH", token, headers: { "x-http-method-override": "DELETE", "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(200);
    const [seen] = up.take();
    expect(seen?.method).toBe("PATCH");
    expect(seen?.headers["x-http-method-override"]).toBeUndefined();
  });
});

describe("what stays allowed", () => {
  test.each(synced)("GET %s is forwarded", async (path) => {
    const res = await gw.request(ACME, path, { token });
    expect(res.status).toBe(200);
    expect(up.take().map((r) => [r.method, r.path, r.headers["tenant-id"]])).toEqual([["GET", path, "acme"]]);
  });

  test.each(["POST", "DELETE"])("%s /api/v2/roles/rol_sync/users (assigning users to a synced role) is forwarded", async (method) => {
    const res = await gw.request(ACME, "/api/v2/roles/rol_sync/users", { method, token, ...json({ users: ["auth2|alice"] }) });
    expect(res.status).toBe(200);
    expect(up.take().map((r) => [r.method, r.path])).toEqual([[method, "/api/v2/roles/rol_sync/users"]]);
  });

  test("PATCH /api/v2/connections/con_sync/clients (enabling a synced connection for the tenant's own app, Auth0's way) is forwarded with its body", async () => {
    const body = JSON.stringify([{ client_id: "app_acme", status: true }]);
    const res = await gw.request(ACME, "/api/v2/connections/con_sync/clients", { method: "PATCH", token, headers: { "content-type": "application/json" }, body });
    expect(res.status).toBe(200);
    expect(up.take().map((r) => [r.method, r.path, r.body])).toEqual([["PATCH", "/api/v2/connections/con_sync/clients", body]]);
    // Only that sub-path: anything below it, or beside it, is still the synced connection's.
    await refused(await gw.request(ACME, "/api/v2/connections/con_sync/clients/app_acme", { method: "PATCH", token, ...json({}) }));
  });

  test.each(["/api/v2/resource-servers/api_own", "/api/v2/roles/rol_own", "/api/v2/connections/con_own", "/api/v2/roles/rol_unknown"])("PATCH and DELETE %s (tenant-owned or unknown) are forwarded", async (path) => {
    for (const method of ["PATCH", "DELETE"]) {
      const res = await gw.request(ACME, path, { method, token, ...json({ name: "x" }) });
      expect(res.status).toBe(200);
    }
    expect(up.take().map((r) => r.method)).toEqual(["PATCH", "DELETE"]);
  });

  test("the control plane's own system entities are not guarded by the gateway", async () => {
    const cpToken = await gw.token({ permissions: ["update:roles"] });
    const res = await gw.request("localhost", "/api/v2/roles/rol_cp", { method: "PATCH", token: cpToken, ...json({ name: "x" }) });
    expect(res.status).toBe(200);
    expect(up.take().map((r) => r.headers["tenant-id"])).toEqual(["control_plane"]);
  });
});

describe("creating an entity with a synced one's unique key", () => {
  test("POST a role named like a synced role → 409; another name is forwarded with its body intact", async () => {
    await refused(await gw.request(ACME, "/api/v2/roles", { method: "POST", token, ...json({ name: "admin" }) }), 409, 'role named "admin"', "rol_sync");
    const body = JSON.stringify({ name: "support", description: "ünïcode ✓" });
    const res = await gw.request(ACME, "/api/v2/roles", { method: "POST", token, headers: { "content-type": "application/json" }, body });
    expect(res.status).toBe(200);
    const [seen] = up.take();
    expect(seen?.body).toBe(body);
  });

  test("POST a resource server with a synced identifier → 409", async () => {
    await refused(await gw.request(ACME, "/api/v2/resource-servers/", { method: "POST", token, ...json({ identifier: IDENTIFIER, name: "mine" }) }), 409, `identifier "${IDENTIFIER}"`);
  });

  test("POST a connection named like a synced connection → 409 (AuthHero would make a second one of that name)", async () => {
    await refused(await gw.request(ACME, "/api/v2/connections", { method: "POST", token, ...json({ name: "shared-db", strategy: "auth0" }) }), 409, 'connection named "shared-db"', "con_sync", "choose another name");
    const res = await gw.request(ACME, "/api/v2/connections", { method: "POST", token, ...json({ name: "acme-db-2", strategy: "auth0" }) });
    expect(res.status).toBe(200);
    expect(up.take().length).toBe(1);
  });

  test.each([
    ["/api/v2/connections/con_own", { name: "shared-db" }, 'connection named "shared-db"'],
    ["/api/v2/roles/rol_own", { name: "admin" }, 'role named "admin"'],
    ["/api/v2/resource-servers/api_own", { identifier: IDENTIFIER }, `resource server with identifier "${IDENTIFIER}"`],
  ] as const)("renaming the tenant's own %s onto a synced key → 409; its own key or another is forwarded", async (path, body, phrase) => {
    for (const method of ["PATCH", "PUT"]) await refused(await gw.request(ACME, path, { method, token, ...json(body) }), 409, phrase, "cannot take it");
    const kept = Object.fromEntries(Object.keys(body).map((k) => [k, `renamed-${k}`]));
    const res = await gw.request(ACME, path, { method: "PATCH", token, ...json({ ...kept, description: "x" }) });
    expect(res.status).toBe(200);
    expect(up.take().map((r) => [r.method, r.path])).toEqual([["PATCH", path]]);
  });

  test("a body that is not JSON is passed on for AuthHero to refuse", async () => {
    const res = await gw.request(ACME, "/api/v2/roles", { method: "POST", token, headers: { "content-type": "application/json" }, body: "{not json" });
    expect(res.status).toBe(200);
    expect(up.take().map((r) => r.body)).toEqual(["{not json"]);
  });

  test("a create the guard would have to read past 1 MiB is 413 before a byte is read; nothing is forwarded", async () => {
    const body = JSON.stringify({ name: "admin", description: "x".repeat(2 * 1024 * 1024) });
    await refused(await gw.request(ACME, "/api/v2/roles", { method: "POST", token, headers: { "content-type": "application/json" }, body }), 413, "for a create the gateway checks");
    expect(up.take()).toEqual([]);
  });

  test("a create nested deeper than the gateway parses is 400, not forwarded unchecked", async () => {
    const body = `{"name":"admin","x":${"[".repeat(40)}${"]".repeat(40)}}`;
    await refused(await gw.request(ACME, "/api/v2/roles", { method: "POST", token, headers: { "content-type": "application/json" }, body }), 400, "nested deeper than 32");
    expect(up.take()).toEqual([]);
  });

  test("the same name is fine on a tenant that has no such synced role", async () => {
    const betaToken = await gw.orgToken("beta", ["create:roles"]);
    const res = await gw.request("beta.localhost", "/api/v2/roles", { method: "POST", token: betaToken, ...json({ name: "admin" }) });
    expect(res.status).toBe(200);
    expect(up.take().length).toBe(1);
  });
});

describe("failing closed", () => {
  test("when the tenant file cannot answer the lookup, writes are refused with 503 and reads still pass", async () => {
    const other = await startGateway(["--upstream", up.url]);
    try {
      await createTenants(other, ["gamma"]);
      const db = new Database(join(other.dataDir, "tenants", "gamma.sqlite"));
      db.exec("DROP TABLE roles");
      db.close();
      const t = await other.orgToken("gamma", []);
      await expectError(await other.request("gamma.localhost", "/api/v2/roles/rol_x", { method: "DELETE", token: t }), 503, 'cannot check tenant "gamma"', "refused");
      expect(up.take()).toEqual([]);
      expect((await other.request("gamma.localhost", "/api/v2/roles/rol_x", { token: t })).status).toBe(200);
      up.take();
    } finally {
      await other.stop();
    }
  });

  test("--no-protection forwards writes to synced copies", async () => {
    const open = await startGateway(["--upstream", up.url, "--no-protection"]);
    try {
      await createTenants(open, ["acme"]);
      seed(join(open.dataDir, "tenants", "acme.sqlite"), "acme", 1, "sync", { rs: IDENTIFIER, role: "admin", con: "shared-db" });
      const t = await open.orgToken("acme", []);
      const res = await open.request(ACME, "/api/v2/roles/rol_sync", { method: "DELETE", token: t });
      expect(res.status).toBe(200);
      expect(up.take().map((r) => r.method)).toEqual(["DELETE"]);
    } finally {
      await open.stop();
    }
  });
});
