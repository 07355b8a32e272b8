import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { DEV_ISSUER, loadDevKey } from "../../src/auth/index.ts";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { createTenants, expectError, expectUpstream, json, rawDevToken, rawRequest, startUpstream, type UpstreamDouble } from "../support/upstream.ts";

// The access rule on management paths, through the proxy: which token may manage which tenant.

let up: UpstreamDouble;
let gw: TestGateway;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  up = startUpstream();
  gw = await startGateway(["--upstream", up.url]);
  await createTenants(gw, ["acme", "beta"]);
  tokens.controlPlane = await gw.token({ permissions: ["read:users"] });
  tokens.noTenantClaim = await gw.token({ tenant_id: undefined, permissions: ["read:users"] });
  tokens.acmeOrg = await gw.orgToken("acme", ["read:users"]);
  tokens.acmeOwn = await gw.token({ tenant_id: "acme", permissions: ["read:users"] });
  // A tenant's own token names organizations inside that tenant: its org claims never count here.
  tokens.acmeOwnWithBetaOrg = await gw.token({ tenant_id: "acme", org_id: (await gw.gateway.parts.cp.organizationOf("beta"))?.id, permissions: [] });
  up.take();
});
afterAll(async () => {
  await gw?.stop();
  up?.stop();
});

const CP = "localhost";
const ACME = "acme.localhost";
const BETA = "beta.localhost";
type Expect = "ok" | [status: number, ...fragments: string[]];

const rows: [token: string, host: string, expected: Expect][] = [
  ["controlPlane", CP, "ok"],
  ["controlPlane", ACME, [403, 'token is for the control plane ("control_plane")', 'this request is for tenant "acme"; request a token with organization=acme']],
  ["controlPlane", BETA, [403, 'this request is for tenant "beta"; request a token with organization=beta']],
  ["noTenantClaim", CP, "ok"],
  ["noTenantClaim", ACME, [403, "token is for the control plane", 'this request is for tenant "acme"']],
  ["acmeOrg", ACME, "ok"],
  ["acmeOrg", BETA, [403, 'token is for tenant "acme" (organization org_', 'this request is for tenant "beta"; request a token with organization=beta']],
  ["acmeOrg", CP, [403, 'token is for tenant "acme" (organization org_', "this request is for the control plane; request a token without an organization"]],
  ["acmeOwn", ACME, "ok"],
  ["acmeOwn", BETA, [403, 'token is for tenant "acme" (issued by that tenant)', 'this request is for tenant "beta"']],
  ["acmeOwn", CP, [403, 'token is for tenant "acme" (issued by that tenant)', "request a token from the control plane without an organization"]],
  ["acmeOwnWithBetaOrg", ACME, "ok"],
  ["acmeOwnWithBetaOrg", BETA, [403, 'token is for tenant "acme" (issued by that tenant)']],
];

describe("/api/v2/users through the proxy", () => {
  test.each(rows)("%s on %s → %p", async (name, host, expected) => {
    const token = tokens[name];
    if (!token) throw new Error(`no token ${name}`);
    const res = await gw.request(host, "/api/v2/users?q=x", { token });
    const tenant = host === CP ? "control_plane" : host.split(".")[0] ?? "";
    if (expected === "ok") {
      expect((await expectUpstream(res, tenant)).path).toBe("/api/v2/users?q=x");
      const [seen] = up.take();
      expect(seen?.headers.authorization).toBe(`Bearer ${token}`);
      return;
    }
    const [status, ...fragments] = expected;
    await expectError(res, status, ...fragments);
    expect(up.take()).toEqual([]);
  });

  test("an organization id that maps to no tenant → 403", async () => {
    const token = await gw.token({ org_id: "org_doesnotexist0000", permissions: [] });
    await expectError(await gw.request(ACME, "/api/v2/users", { token }), 403, "token's organization org_doesnotexist0000 does not belong to any tenant");
    expect(up.take()).toEqual([]);
  });

  test.each([CP, ACME, BETA])("no token on %s → 401", async (host) => {
    await expectError(await gw.request(host, "/api/v2/users"), 401, "missing bearer token");
    await expectError(await gw.request(host, "/api/v2/users", { headers: { authorization: "Bearer" } }), 401, "authorization header must be `Bearer <token>`");
    await expectError(await gw.request(host, "/api/v2/users", { token: "not.a.jwt" }), 401, "token is malformed");
    expect(up.take()).toEqual([]);
  });

  test("a CORS preflight needs no token and reaches the upstream; a plain OPTIONS still needs one", async () => {
    const preflight = await gw.request(ACME, "/api/v2/users", {
      method: "OPTIONS",
      headers: { origin: "https://admin.example.com", "access-control-request-method": "PATCH" },
    });
    expect(preflight.status).toBe(200);
    const seen = up.take();
    expect(seen.length).toBe(1);
    expect(seen[0]?.method).toBe("OPTIONS");
    await expectError(await gw.request(ACME, "/api/v2/users", { method: "OPTIONS" }), 401, "missing bearer token");
    expect(up.take()).toEqual([]);
  });

  test("an expired token → 401, also for the tenant it was good for", async () => {
    const expired = await rawDevToken(gw, { tenant_id: "acme", permissions: [] }, { iatOffsetSec: -7200, expOffsetSec: -3600 });
    for (const host of [ACME, CP]) await expectError(await gw.request(host, "/api/v2/users", { token: expired }), 401, "token expired at");
    // Within the 60 s clock tolerance it is still good.
    const justExpired = await rawDevToken(gw, { tenant_id: "acme", permissions: [] }, { iatOffsetSec: -600, expOffsetSec: -10 });
    await expectUpstream(await gw.request(ACME, "/api/v2/users", { token: justExpired }), "acme");
    expect(up.take()).toHaveLength(1);
  });

  test("a wrong audience, a foreign issuer or a forged signature → 401", async () => {
    const aud = await rawDevToken(gw, { tenant_id: "acme" }, { expOffsetSec: 600, audience: "urn:somebody:else" });
    await expectError(await gw.request(ACME, "/api/v2/users", { token: aud }), 401, 'token audience "urn:somebody:else" does not include');

    const key = await loadDevKey(gw.dataDir);
    const now = Math.floor(Date.now() / 1000);
    const foreign = await new SignJWT({ tenant_id: "acme" })
      .setProtectedHeader({ alg: "RS256", kid: key.kid })
      .setIssuer("https://evil.example.com/")
      .setAudience(gw.config.audience)
      .setSubject("dev|admin")
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(key.privateKey);
    await expectError(await gw.request(ACME, "/api/v2/users", { token: foreign }), 401, "token issuer", "is not trusted");

    // Another key that claims the dev key's kid.
    const { privateKey } = await generateKeyPair("RS256", { extractable: true });
    expect((await exportJWK(privateKey)).kty).toBe("RSA");
    const forged = await new SignJWT({ tenant_id: "acme" })
      .setProtectedHeader({ alg: "RS256", kid: key.kid })
      .setIssuer(DEV_ISSUER)
      .setAudience(gw.config.audience)
      .setSubject("dev|admin")
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(privateKey);
    await expectError(await gw.request(ACME, "/api/v2/users", { token: forged }), 401, "token signature is invalid");
    expect(up.take()).toEqual([]);
  });

  test("writes are checked like reads, and the body reaches the upstream untouched", async () => {
    const body = { email: "a@acme.test", connection: "Username-Password-Authentication" };
    await expectError(await gw.request(ACME, "/api/v2/users", { method: "POST", token: tokens.controlPlane, ...json(body) }), 403, 'this request is for tenant "acme"');
    expect(up.take()).toEqual([]);
    const echoed = await expectUpstream(await gw.request(ACME, "/api/v2/users", { method: "POST", token: tokens.acmeOrg, ...json(body) }), "acme");
    expect(echoed.method).toBe("POST");
    expect(JSON.parse(echoed.body)).toEqual(body);
    expect(up.take()).toHaveLength(1);
  });
});

describe("spellings of a management path are still management paths", () => {
  // Each would, or might, reach AuthHero's management API (Hono decodes %xx before matching), so
  // the access rule must apply to every one of them. Sent byte for byte: fetch would normalize some.
  const spellings = [
    "/API/V2/users",
    "/Api/v2/users",
    "/%61pi/v2/users",
    "/%2561pi/v2/users",
    "/api/v2/%75sers",
    "/api%2Fv2/users",
    "//api/v2/users",
    "/api//v2/users",
    "/\\api/v2/users",
    "/./api/v2/users",
    "/x/../api/v2/users",
    "/x/%2e%2e/api/v2/users",
    "/api/v2",
    "/api/v2/",
  ];
  const port = () => gw.gateway.port;
  test.each(spellings)("%s without a token → 401", async (path) => {
    const res = await rawRequest(port(), path, { host: ACME });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toEqual({ statusCode: 401, error: "Unauthorized", message: "missing bearer token" });
    expect(up.take()).toEqual([]);
  });
  test.each(spellings)("%s with the control-plane token on a tenant → 403", async (path) => {
    const res = await rawRequest(port(), path, { host: ACME, authorization: `Bearer ${tokens.controlPlane}` });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).message).toContain('this request is for tenant "acme"');
    expect(up.take()).toEqual([]);
  });
  test("spellings that are not the management API stay public", async () => {
    for (const path of ["/apiv2/users", "/api/v21/users", "/api/v1/users", "/x/api/v2/users"]) {
      const res = await rawRequest(port(), path, { host: ACME });
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
    }
    expect(up.take()).toHaveLength(4);
  });
});

describe("the upstream URL is never taken from the request path", () => {
  // Resolved as a URL reference, `//evil.example.com/x` would replace the upstream's host (with the
  // client's Authorization header and our tenant-id on the way). It must reach the upstream instead.
  test.each([
    ["//evil.example.com/x", "/evil.example.com/x"],
    ["///evil.example.com/x", "/evil.example.com/x"],
    ["/\\evil.example.com/x", "/evil.example.com/x"],
    ["//127.0.0.1:1/authorize", "/127.0.0.1:1/authorize"],
  ])("%s reaches the upstream, as a path", async (path, tail) => {
    const res = await rawRequest(gw.gateway.port, path, { host: ACME });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ upstream: true, tenant: "acme" });
    const seen = up.take();
    expect(seen).toHaveLength(1);
    // (The double's own server folds leading slashes; the tail is what matters.)
    expect(seen[0]?.path.endsWith(tail)).toBe(true);
  });
});

describe("public paths need no token but are routed by tenant", () => {
  const paths = ["/authorize?client_id=c&response_type=code", "/.well-known/jwks.json", "/.well-known/openid-configuration", "/u/login", "/oauth/token"];
  test.each(paths)("%s", async (path) => {
    for (const [host, tenant] of [
      [CP, "control_plane"],
      [ACME, "acme"],
      [BETA, "beta"],
    ] as const) {
      expect((await expectUpstream(await gw.request(host, path), tenant)).path).toBe(path);
    }
    await expectError(await gw.request("zzz.localhost", path), 404, 'tenant "zzz" does not exist');
    expect(up.take().map((r) => r.headers["tenant-id"])).toEqual(["control_plane", "acme", "beta"]);
  });

  test("a token for another tenant does not matter on a public path", async () => {
    await expectUpstream(await gw.request(ACME, "/oauth/token", { method: "POST", token: tokens.controlPlane, ...json({ grant_type: "client_credentials" }) }), "acme");
    expect(up.take()).toHaveLength(1);
  });
});

describe("--no-access-control", () => {
  test("management paths are forwarded without a token check", async () => {
    const open = await startGateway(["--upstream", up.url, "--no-access-control"]);
    try {
      await expectUpstream(await open.request("localhost", "/api/v2/users"), "control_plane");
      expect(up.take()).toHaveLength(1);
    } finally {
      await open.stop();
    }
  });
});

test("a token already used follows its organization when the control plane re-points it (within the registry's 250 ms)", async () => {
  const { Database } = await import("bun:sqlite");
  const g = await startGateway(["--upstream", up.url]);
  try {
    await createTenants(g, ["one", "two"]);
    const token = await g.orgToken("one", ["read:users"]);
    expect((await g.request("one.localhost", "/api/v2/users", { token })).status).toBe(200);
    expect((await g.request("one.localhost", "/api/v2/users", { token })).status).toBe(200);
    // As AuthHero would, on its own connection: organization "one" now names tenant "two".
    const other = new Database(`${g.dataDir}/tenants/control_plane.sqlite`);
    other.exec("PRAGMA busy_timeout = 5000");
    const orgOne = (await g.gateway.parts.cp.organizationOf("one"))?.id as string;
    other.query("DELETE FROM organizations WHERE name = 'two'").run();
    other.query("UPDATE organizations SET name = 'two' WHERE id = ?").run(orgOne);
    other.close();
    await Bun.sleep(300);
    await expectError(await g.request("one.localhost", "/api/v2/users", { token }), 403, 'token is for tenant "two"');
    expect((await g.request("two.localhost", "/api/v2/users", { token })).status).toBe(200);
    up.take();
  } finally {
    await g.stop();
  }
});
