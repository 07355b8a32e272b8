import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { createTenants, expectError, expectUpstream, json, startUpstream, waitFor, type UpstreamDouble } from "../support/upstream.ts";

// Host → tenant through real HTTP: a gateway in front of an upstream double that echoes the
// `tenant-id` header it was given. `/authorize` is a public path, so no token is involved here.

let up: UpstreamDouble;
let gw: TestGateway; // base domain localhost
let ex: TestGateway; // base domain auth.example.com
let trusted: TestGateway; // --trusted-proxies 127.0.0.1
let flat: TestGateway; // --no-routing

beforeAll(async () => {
  up = startUpstream();
  [gw, ex, trusted, flat] = await Promise.all([
    startGateway(["--upstream", up.url]),
    startGateway(["--upstream", up.url, "--base-domain", "auth.example.com"]),
    startGateway(["--upstream", up.url, "--trusted-proxies", "127.0.0.1"]),
    startGateway(["--upstream", up.url, "--no-routing"]),
  ]);
  await Promise.all([createTenants(gw, ["acme", "beta", "doomed", "garbled"]), createTenants(ex, ["acme"]), createTenants(trusted, ["acme"])]);
  up.take();
});

afterAll(async () => {
  await Promise.all([gw, ex, trusted, flat].map((g) => g?.stop()));
  up?.stop();
});

describe("base domain localhost", () => {
  const routed: [host: string, tenant: string][] = [
    ["localhost", "control_plane"],
    ["localhost:8080", "control_plane"],
    ["LOCALHOST.", "control_plane"],
    ["acme.localhost", "acme"],
    ["ACME.LocalHost:8080", "acme"],
    ["acme.localhost.", "acme"],
    ["acme.localhost.:8443", "acme"],
    ["beta.localhost", "beta"],
    ["www.localhost", "control_plane"],
    ["api.localhost", "control_plane"],
    ["admin.localhost", "control_plane"],
    ["auth.localhost", "control_plane"],
    ["control-plane.localhost", "control_plane"],
    ["WWW.LOCALHOST:80", "control_plane"],
  ];
  test.each(routed)("%p → %p", async (host, tenant) => {
    const res = await gw.request(host, "/authorize?client_id=x");
    const body = await expectUpstream(res, tenant);
    expect(body.path).toBe("/authorize?client_id=x");
    const seen = up.take();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.headers["tenant-id"]).toBe(tenant);
    expect(seen[0]?.headers["x-forwarded-host"]).toBe(host);
    expect(seen[0]?.headers.host).toBe(new URL(up.url).host);
  });

  const unknown: [host: string, fragment: string][] = [
    ["a.b.localhost", 'host "a.b.localhost" is not a tenant of localhost'],
    ["acme.acme.localhost", 'host "acme.acme.localhost" is not a tenant'],
    ["zzz.localhost", 'tenant "zzz" does not exist'],
    ["Zzz.Localhost:9000", 'tenant "zzz" does not exist'],
    ["xlocalhost", 'host "xlocalhost" is not a tenant'],
    ["acme-localhost", 'host "acme-localhost" is not a tenant'],
    ["localhost.evil.com", 'host "localhost.evil.com" is not a tenant'],
    ["acme.localhost.evil.com", 'host "acme.localhost.evil.com" is not a tenant'],
    ["example.org", 'host "example.org" is not a tenant'],
    ["127.0.0.1", 'host "127.0.0.1" is not a tenant'],
    ["[::1]:8080", 'host "[::1]" is not a tenant'],
    ["-acme.localhost", 'host "-acme.localhost" is not a tenant'],
  ];
  test.each(unknown)("%p → 404 and the upstream never sees it", async (host, fragment) => {
    const res = await gw.request(host, "/authorize");
    await expectError(res, 404, fragment);
    expect(up.take()).toEqual([]);
  });

  // Underscores are not allowed in host names (RFC 952/1123) nor in tenant ids, so such a host is
  // malformed (400), not merely unknown.
  const malformed: [host: string, fragment: string][] = [
    ["a b", 'malformed Host header "a b"'],
    ["acme.localhost:99999", 'malformed port in Host header "acme.localhost:99999"'],
    ["acme.localhost:", 'malformed port in Host header "acme.localhost:"'],
    ["acme.localhost:abc", 'malformed Host header "acme.localhost:abc"'],
    ["ac/me.localhost", 'malformed Host header "ac/me.localhost"'],
    ["ac_me.localhost", 'malformed Host header "ac_me.localhost"'],
    ["control_plane.localhost", 'malformed Host header "control_plane.localhost"'],
    ["user@acme.localhost", 'malformed Host header "user@acme.localhost"'],
    ["acme..localhost", 'malformed Host header "acme..localhost"'],
    [".localhost", 'malformed Host header ".localhost"'],
    ["é.localhost", "malformed Host header"],
    ["acme.localhost:80:80", "malformed Host header"],
  ];
  test.each(malformed)("%p → 400 and the upstream never sees it", async (host, fragment) => {
    const res = await gw.request(host, "/authorize");
    await expectError(res, 400, fragment);
    expect(up.take()).toEqual([]);
  });

  test("a malformed host is refused on a management path too, before any token check", async () => {
    await expectError(await gw.request("a b", "/api/v2/users"), 400, "malformed Host header");
    await expectError(await gw.request("ac/me.localhost", "/api/v2/tenants", { token: await gw.token() }), 400, "malformed Host header");
    expect(up.take()).toEqual([]);
  });

  test("client-sent tenant-id and x-tenant-id are dropped and replaced", async () => {
    for (const [host, tenant] of [
      ["acme.localhost", "acme"],
      ["localhost", "control_plane"],
    ] as const) {
      const res = await gw.request(host, "/authorize", { headers: { "tenant-id": "beta", "x-tenant-id": "beta", "X-Tenant-ID": "beta" } });
      await expectUpstream(res, tenant);
      const [seen] = up.take();
      expect(seen?.headers["tenant-id"]).toBe(tenant);
      expect(seen?.headers["x-tenant-id"]).toBeUndefined();
    }
  });

  test("X-Forwarded-Host/Proto from an untrusted peer are ignored (routing and the forwarded headers)", async () => {
    const res = await gw.request("localhost", "/authorize", { headers: { "x-forwarded-host": "acme.localhost", "x-forwarded-proto": "https" } });
    await expectUpstream(res, "control_plane");
    const [seen] = up.take();
    expect(seen?.headers["x-forwarded-host"]).toBe("localhost");
    expect(seen?.headers["x-forwarded-proto"]).toBe("http");
    // Nor can it turn an unknown host into a known one.
    await expectError(await gw.request("zzz.localhost", "/authorize", { headers: { "x-forwarded-host": "acme.localhost" } }), 404, 'tenant "zzz"');
    expect(up.take()).toEqual([]);
  });

  test("X-Forwarded-For from an untrusted peer is replaced by the peer's address", async () => {
    await expectUpstream(await gw.request("acme.localhost", "/authorize", { headers: { "x-forwarded-for": "6.6.6.6" } }), "acme");
    await expectUpstream(await gw.request("acme.localhost", "/authorize"), "acme");
    expect(up.take().map((r) => r.headers["x-forwarded-for"])).toEqual(["127.0.0.1", "127.0.0.1"]);
  });

  test("a custom domain maps to its tenant until it is removed", async () => {
    const admin = await gw.token();
    await expectError(await gw.request("login.acme.com", "/authorize"), 404, 'host "login.acme.com" is not a tenant of localhost');

    const put = await gw.request("localhost", "/api/v2/tenants/acme/domains/login.acme.com", { method: "PUT", token: admin });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ domain: "login.acme.com", tenant_id: "acme", status: "ready", custom_domain_id: expect.stringMatching(/^cd_[A-Za-z0-9]{17}$/) });
    // Idempotent for the same tenant; 409 for another.
    expect((await gw.request("localhost", "/api/v2/tenants/acme/domains/Login.Acme.com", { method: "PUT", token: admin })).status).toBe(200);
    await expectError(await gw.request("localhost", "/api/v2/tenants/beta/domains/login.acme.com", { method: "PUT", token: admin }), 409, 'already belongs to tenant "acme"');
    await expectError(await gw.request("localhost", "/api/v2/tenants/acme/domains/x.localhost", { method: "PUT", token: admin }), 400, "under the base domain localhost");
    await expectError(await gw.request("localhost", "/api/v2/tenants/acme/domains/nodots", { method: "PUT", token: admin }), 400, "not a fully qualified domain name");
    await expectError(await gw.request("localhost", "/api/v2/tenants/nope/domains/login.nope.com", { method: "PUT", token: admin }), 404, 'tenant "nope" does not exist');
    up.take();

    for (const host of ["login.acme.com", "LOGIN.ACME.COM:443", "login.acme.com."]) await expectUpstream(await gw.request(host, "/authorize"), "acme");
    expect(up.take().map((r) => r.headers["tenant-id"])).toEqual(["acme", "acme", "acme"]);

    const list = await gw.request("localhost", "/api/v2/tenants/acme/domains", { token: admin });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { domain: string }[]).map((d) => d.domain)).toEqual(["login.acme.com"]);

    const del = await gw.request("localhost", "/api/v2/tenants/acme/domains/login.acme.com", { method: "DELETE", token: admin });
    expect(del.status).toBe(200);
    expect(await del.json()).toEqual({ deleted: "login.acme.com" });
    await expectError(await gw.request("login.acme.com", "/authorize"), 404, 'host "login.acme.com" is not a tenant');
    await expectError(await gw.request("localhost", "/api/v2/tenants/acme/domains/login.acme.com", { method: "DELETE", token: admin }), 404, 'tenant "acme" has no domain login.acme.com');
    expect(up.take()).toEqual([]);
  });

  test("a tenant's admin only asks for a custom domain: it routes once a control-plane admin approves it", async () => {
    const admin = await gw.token();
    const acmeAdmin = await gw.orgToken("acme", ["read:tenants", "update:tenants"]);
    const asked = await gw.request("localhost", "/api/v2/tenants/acme/domains/id.acme.example", { method: "PUT", token: acmeAdmin });
    expect(asked.status).toBe(202);
    expect(await asked.json()).toMatchObject({ domain: "id.acme.example", tenant_id: "acme", status: "pending_verification" });
    // Asking again changes nothing; the name is held for acme (another tenant cannot take it).
    expect((await gw.request("localhost", "/api/v2/tenants/acme/domains/id.acme.example", { method: "PUT", token: acmeAdmin })).status).toBe(202);
    await expectError(await gw.request("localhost", "/api/v2/tenants/beta/domains/id.acme.example", { method: "PUT", token: admin }), 409, 'asked for by tenant "acme", pending approval');
    await expectError(await gw.request("id.acme.example", "/authorize"), 404, 'host "id.acme.example" is not a tenant');
    const listed = (await (await gw.request("localhost", "/api/v2/tenants/acme/domains", { token: acmeAdmin })).json()) as { domain: string; status: string }[];
    expect(listed.find((d) => d.domain === "id.acme.example")?.status).toBe("pending_verification");

    const approved = await gw.request("localhost", "/api/v2/tenants/acme/domains/id.acme.example", { method: "PUT", token: admin });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ status: "ready" });
    up.take();
    await expectUpstream(await gw.request("id.acme.example", "/authorize"), "acme");
    expect((await gw.request("localhost", "/api/v2/tenants/acme/domains/id.acme.example", { method: "DELETE", token: acmeAdmin })).status).toBe(200);
    await expectError(await gw.request("id.acme.example", "/authorize"), 404, "is not a tenant");
  });

  test.each(["127.0.0.1", "10.1.2.3", "127.1", "0x7f.1", "1.2.3.0x4", "[::1]", "%5B::1%5D", "::ffff:127.0.0.1"])("an IP address %p is not a custom domain (400), whoever asks", async (literal) => {
    const admin = await gw.token();
    await expectError(await gw.request("localhost", `/api/v2/tenants/acme/domains/${literal}`, { method: "PUT", token: admin }), 400);
    expect((await gw.gateway.parts.cp.domains("acme")).map((d) => d.domain)).not.toContain(literal);
  });

  test("a tenant's admin cannot change its audience; a control-plane admin can; its other settings stay its own", async () => {
    const acmeAdmin = await gw.orgToken("acme", ["read:tenants", "update:tenants"]);
    const patch = (token: string, body: unknown) => gw.request("localhost", "/api/v2/tenants/acme", { method: "PATCH", token, ...json(body) });
    await expectError(await patch(acmeAdmin, { audience: "urn:authhero:management" }), 403, "audience", "control-plane admin");
    expect((await gw.gateway.parts.cp.tenant("acme"))?.audience).not.toBe("urn:authhero:management");
    expect((await patch(acmeAdmin, { friendly_name: "Acme Inc" })).status).toBe(200);
    const byAdmin = await patch(await gw.token(), { audience: "urn:acme:api" });
    expect(byAdmin.status).toBe(200);
    expect(((await byAdmin.json()) as { audience: string }).audience).toBe("urn:acme:api");
  });

  test("a tenant whose file is removed answers 503, alone", async () => {
    await expectUpstream(await gw.request("doomed.localhost", "/authorize"), "doomed");
    up.take();
    rmSync(join(gw.dataDir, "tenants", "doomed.sqlite"));
    await waitFor(async () => (await gw.request("doomed.localhost", "/authorize")).status === 503, 4000, "doomed to answer 503");
    up.take();
    await expectError(await gw.request("doomed.localhost", "/authorize"), 503, 'tenant "doomed" is unavailable: its database file is missing');
    await expectUpstream(await gw.request("acme.localhost", "/authorize"), "acme");
    await expectUpstream(await gw.request("localhost", "/authorize"), "control_plane");
    expect(up.take().map((r) => r.headers["tenant-id"])).toEqual(["acme", "control_plane"]);
  });

  test("a tenant whose file is not SQLite answers 503, alone", async () => {
    writeFileSync(join(gw.dataDir, "tenants", "garbled.sqlite"), "this is certainly not a SQLite database file\n".repeat(20));
    await waitFor(async () => (await gw.request("garbled.localhost", "/authorize")).status === 503, 4000, "garbled to answer 503");
    up.take();
    await expectError(await gw.request("garbled.localhost", "/authorize"), 503, 'tenant "garbled" is unavailable: its database file cannot be read');
    await expectUpstream(await gw.request("beta.localhost", "/authorize"), "beta");
    expect(up.take().map((r) => r.headers["tenant-id"])).toEqual(["beta"]);
  });
});

describe("base domain auth.example.com", () => {
  const routed: [string, string][] = [
    ["auth.example.com", "control_plane"],
    ["Auth.Example.Com:443", "control_plane"],
    ["acme.auth.example.com", "acme"],
    ["ACME.auth.example.com.", "acme"],
    ["www.auth.example.com", "control_plane"],
    ["auth.auth.example.com", "control_plane"],
  ];
  test.each(routed)("%p → %p", async (host, tenant) => {
    await expectUpstream(await ex.request(host, "/authorize"), tenant);
    expect(up.take().map((r) => r.headers["tenant-id"])).toEqual([tenant]);
  });

  const unknown: [string, string][] = [
    ["xauth.example.com", 'host "xauth.example.com" is not a tenant of auth.example.com'],
    ["acme.xauth.example.com", 'host "acme.xauth.example.com" is not a tenant'],
    ["example.com", 'host "example.com" is not a tenant'],
    ["a.b.auth.example.com", 'host "a.b.auth.example.com" is not a tenant'],
    ["auth.example.com.evil.com", 'host "auth.example.com.evil.com" is not a tenant'],
    ["localhost", 'host "localhost" is not a tenant'],
    ["acme.localhost", 'host "acme.localhost" is not a tenant'],
    ["zzz.auth.example.com", 'tenant "zzz" does not exist'],
  ];
  test.each(unknown)("%p → 404", async (host, fragment) => {
    await expectError(await ex.request(host, "/authorize"), 404, fragment);
    expect(up.take()).toEqual([]);
  });

  test("the tenants API answers on the apex only; another host is not the control plane", async () => {
    const token = await ex.token();
    const res = await ex.request("auth.example.com", "/api/v2/tenants", { token });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { tenants: { id: string }[] }).tenants.map((t) => t.id)).toEqual(["acme"]);
    await expectError(await ex.request("localhost", "/api/v2/tenants", { method: "POST", token, ...json({ id: "sneaky", friendly_name: "S" }) }), 404, 'host "localhost" is not a tenant');
    expect(up.take()).toEqual([]);
    expect(await ex.gateway.parts.cp.tenant("sneaky")).toBeUndefined();
  });
});

describe("--trusted-proxies 127.0.0.1", () => {
  const cases: [xfh: string | undefined, tenant: string | number][] = [
    ["acme.localhost", "acme"],
    ["ACME.localhost:443", "acme"],
    ["acme.localhost, evil.localhost", "acme"],
    ["localhost", "control_plane"],
    [undefined, "control_plane"],
    ["zzz.localhost", 404],
    ["a.b.localhost", 404],
    ["a b", 400],
  ];
  test.each(cases)("X-Forwarded-Host %p (Host: localhost) → %p", async (xfh, expected) => {
    const headers: Record<string, string> = xfh === undefined ? {} : { "x-forwarded-host": xfh };
    const res = await trusted.request("localhost", "/authorize", { headers });
    if (typeof expected === "number") {
      await expectError(res, expected, expected === 400 ? "malformed Host header" : "");
      expect(up.take()).toEqual([]);
      return;
    }
    await expectUpstream(res, expected);
    const [seen] = up.take();
    expect(seen?.headers["tenant-id"]).toBe(expected);
    // AuthHero must see the host the client asked for, not the proxy's internal one.
    expect(seen?.headers["x-forwarded-host"]).toBe(xfh?.split(",")[0]?.trim() ?? "localhost");
  });

  test.each([
    ["https", "https"],
    ["HTTPS, http", "https"],
    ["gopher", "http"],
  ])("X-Forwarded-Proto %p from the trusted proxy → %p upstream", async (xfp, expected) => {
    await expectUpstream(await trusted.request("localhost", "/authorize", { headers: { "x-forwarded-host": "acme.localhost", "x-forwarded-proto": xfp } }), "acme");
    const [seen] = up.take();
    expect(seen?.headers["x-forwarded-proto"]).toBe(expected);
    expect(seen?.headers["x-forwarded-host"]).toBe("acme.localhost");
  });

  test("the trusted proxy's X-Forwarded-For chain is kept and extended", async () => {
    await expectUpstream(await trusted.request("localhost", "/authorize", { headers: { "x-forwarded-for": "203.0.113.7, 10.0.0.2" } }), "control_plane");
    await expectUpstream(await trusted.request("localhost", "/authorize"), "control_plane");
    expect(up.take().map((r) => r.headers["x-forwarded-for"])).toEqual(["203.0.113.7, 10.0.0.2, 127.0.0.1", "127.0.0.1"]);
  });

  test("the trusted proxy's X-Forwarded-Host also decides the control-plane host of the tenants API", async () => {
    const token = await trusted.token();
    const res = await trusted.request("localhost", "/api/v2/tenants", { token, headers: { "x-forwarded-host": "acme.localhost" } });
    // acme's own /api/v2/tenants belongs to AuthHero: forwarded with acme's tenant id, where the
    // control-plane token is refused by the access rule.
    await expectError(res, 403, 'this request is for tenant "acme"');
    const direct = await trusted.request("localhost", "/api/v2/tenants", { token });
    expect(direct.status).toBe(200);
    expect(direct.headers.get("x-upstream")).toBeNull();
    expect(up.take()).toEqual([]);
  });
});

describe("--no-routing", () => {
  test.each(["localhost", "acme.localhost", "zzz.localhost", "a.b.localhost", "example.org", "login.acme.com"])("%p → control plane", async (host) => {
    await expectUpstream(await flat.request(host, "/authorize"), "control_plane");
    expect(up.take().map((r) => r.headers["tenant-id"])).toEqual(["control_plane"]);
  });

  test("a malformed host is still 400", async () => {
    await expectError(await flat.request("a b", "/authorize"), 400, "malformed Host header");
    expect(up.take()).toEqual([]);
  });

  test("the tenants API answers on any host", async () => {
    const res = await flat.request("zzz.localhost", "/api/v2/tenants", { token: await flat.token() });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ tenants: [] });
    expect(up.take()).toEqual([]);
  });
});
