import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { createTenants, startUpstream, type UpstreamDouble } from "../support/upstream.ts";

// The gateway's own answers carry the CORS headers AuthHero's management API would give the same
// origin (shared/reference/authhero-runtime.md §6), so a browser app can use the tenants API and
// read the gateway's refusals. Answers that come from AuthHero are left as AuthHero made them.

const ADMIN_APP = "https://admin.example.com";
const ACME_APP = "http://app.acme.test";
let up: UpstreamDouble;
let gw: TestGateway;

beforeAll(async () => {
  up = startUpstream();
  gw = await startGateway(["--upstream", up.url, "--allowed-origins", ADMIN_APP]);
  await createTenants(gw, ["acme"]);
  // acme's clients as AuthHero stores them: web_origins is JSON text; the 10 newest count.
  const db = new Database(join(gw.dataDir, "tenants", "acme.sqlite"));
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec("CREATE TABLE IF NOT EXISTS clients (client_id TEXT NOT NULL, tenant_id TEXT NOT NULL, name TEXT NOT NULL, web_origins TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (tenant_id, client_id))");
  db.query("INSERT INTO clients VALUES ('web', 'acme', 'Web', ?, '2026-12-01T00:00:00.000Z')").run(JSON.stringify([ACME_APP]));
  for (let i = 0; i < 10; i++) db.query("INSERT INTO clients VALUES (?, 'acme', 'Newer', '[]', ?)").run(`newer-${i}`, `2026-12-02T00:00:0${i}.000Z`);
  db.query("UPDATE clients SET created_at = '2026-12-03T00:00:00.000Z' WHERE client_id = 'web'").run();
  db.close();
});
afterAll(async () => {
  await gw.stop();
  up.stop();
});

const ALLOWED = {
  "access-control-allow-credentials": "true",
  "access-control-allow-methods": "POST, PUT, GET, DELETE, PATCH, OPTIONS",
  "access-control-allow-headers": "Tenant-Id, Content-Type, Content-Range, Auth0-Client, Authorization, Range, Upgrade-Insecure-Requests",
  "access-control-expose-headers": "Content-Length, Content-Range",
  "access-control-max-age": "600",
};
const cors = (res: Response) => Object.fromEntries([...res.headers].filter(([k]) => k.startsWith("access-control-") || k === "vary"));

describe("the tenants API on the control-plane host", () => {
  test("a preflight from an allowed origin: 204 with AuthHero's header set", async () => {
    const res = await gw.request("localhost", "/api/v2/tenants", { method: "OPTIONS", headers: { origin: ADMIN_APP, "access-control-request-method": "POST" } });
    expect(res.status).toBe(204);
    expect(cors(res)).toEqual({ ...ALLOWED, "access-control-allow-origin": ADMIN_APP, vary: "Origin" });
  });

  test("a preflight from another origin: 204 with Vary only", async () => {
    const res = await gw.request("localhost", "/api/v2/tenants", { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    expect(res.status).toBe(204);
    expect(cors(res)).toEqual({ vary: "Origin" });
  });

  test("answers and refusals carry the headers for an allowed origin", async () => {
    const ok = await gw.request("localhost", "/api/v2/tenants", { token: await gw.token(), headers: { origin: ADMIN_APP } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe(ADMIN_APP);
    const refused = await gw.request("localhost", "/api/v2/tenants", { headers: { origin: ADMIN_APP } });
    expect(refused.status).toBe(401);
    expect(cors(refused)).toEqual({ ...ALLOWED, "access-control-allow-origin": ADMIN_APP, vary: "Origin" });
  });
});

describe("the gateway's refusals on a tenant's management API", () => {
  test("an origin among the tenant's 10 newest clients' web_origins can read the 401", async () => {
    up.take();
    const res = await gw.request("acme.localhost", "/api/v2/users", { headers: { origin: ACME_APP } });
    expect(res.status).toBe(401);
    expect(res.headers.get("access-control-allow-origin")).toBe(ACME_APP);
    expect(up.take()).toEqual([]);
  });

  test("any other origin gets Vary only; an unknown tenant allows only --allowed-origins", async () => {
    const other = await gw.request("acme.localhost", "/api/v2/users", { headers: { origin: "https://evil.example" } });
    expect(cors(other)).toEqual({ vary: "Origin" });
    const unknown = await gw.request("nobody.localhost", "/api/v2/users", { headers: { origin: ACME_APP } });
    expect(unknown.status).toBe(404);
    expect(cors(unknown)).toEqual({ vary: "Origin" });
    const admin = await gw.request("nobody.localhost", "/api/v2/users", { headers: { origin: ADMIN_APP } });
    expect(admin.headers.get("access-control-allow-origin")).toBe(ADMIN_APP);
  });

  test("an answer from AuthHero is passed as AuthHero made it", async () => {
    const res = await gw.request("acme.localhost", "/api/v2/users", { token: await gw.orgToken("acme", ["read:users"]), headers: { origin: ACME_APP } });
    expect(res.status).toBe(200);
    expect(cors(res)).toEqual({});
  });
});
