import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TrustedIssuers } from "../../src/auth/issuers.ts";
import { HttpError } from "../../src/http-error.ts";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { startUpstream, createTenants, type UpstreamDouble } from "../support/upstream.ts";
import { startJwksServer, type JwksServer } from "./jwks-server.ts";
import { ISSUER, signingKey, token, type SigningKey } from "./signing-keys.ts";

// Tokens AuthHero issues under each tenant's own public URL (issue 12): `--tenant-issuer` accepts
// them, each for the tenant that issued it and no other.

const PATTERN = "http://{tenant}.localhost:8080/";

describe("TrustedIssuers", () => {
  const issuers = new TrustedIssuers([ISSUER], PATTERN);

  test("the control plane's issuers, each tenant's own, and nobody else's", () => {
    expect(issuers.tenantOf(ISSUER)).toBeNull();
    expect(issuers.tenantOf("http://acme.localhost:8080/")).toBe("acme");
    for (const iss of ["http://acme.localhost:8080", "http://a.b.localhost:8080/", "http://ACME.localhost:8080/", "http://acme.localhost:8080/x", "https://acme.localhost:8080/", "http://-x.localhost:8080/", "http://acme.localhost:8080/.evil/", 42, undefined]) {
      expect(issuers.tenantOf(iss)).toBeUndefined();
    }
  });

  test("a tenant's token speaks for that tenant only", () => {
    expect(() => issuers.bind("http://acme.localhost:8080/", "acme")).not.toThrow();
    expect(() => issuers.bind(ISSUER, "beta")).not.toThrow();
    expect(() => issuers.bind("http://acme.localhost:8080/", "beta")).toThrow(HttpError);
  });

  test("a pattern names {tenant} once and forms a URL", () => {
    expect(() => new TrustedIssuers([ISSUER], "http://localhost/")).toThrow(/exactly once/);
    expect(() => new TrustedIssuers([ISSUER], "http://{tenant}.{tenant}/")).toThrow(/exactly once/);
    expect(() => new TrustedIssuers([ISSUER], "{tenant}")).toThrow(/URL/);
  });
});

describe("through the gateway", () => {
  let key: SigningKey;
  let jwks: JwksServer;
  let up: UpstreamDouble;
  let gw: TestGateway;

  beforeAll(async () => {
    key = await signingKey("RS256", "k1");
    jwks = startJwksServer({ keys: [key.publicJwk] });
    up = startUpstream();
    gw = await startGateway(["--upstream", up.url, "--jwks-url", jwks.url, "--issuer", ISSUER, "--tenant-issuer", PATTERN]);
    await createTenants(gw, ["acme", "beta"]);
  });
  afterAll(async () => {
    await gw.stop();
    up.stop();
    await jwks.stop();
  });

  const read = async (host: string, claims: Record<string, unknown>) => {
    up.take();
    const res = await gw.request(host, "/api/v2/users", { token: await token(key, { permissions: ["read:users"], ...claims }) });
    return { status: res.status, body: await res.text(), forwarded: up.take().length };
  };

  test("a token acme's issuer gave, for acme, reaches acme", async () => {
    expect(await read("acme.localhost", { iss: "http://acme.localhost:8080/", tenant_id: "acme" })).toMatchObject({ status: 200, forwarded: 1 });
  });

  test("the same token is not beta's", async () => {
    const r = await read("beta.localhost", { iss: "http://acme.localhost:8080/", tenant_id: "acme" });
    expect(r.status).toBe(403);
    expect(r.forwarded).toBe(0);
  });

  test("a token from acme's issuer that claims beta is refused (401), wherever it is sent", async () => {
    for (const host of ["acme.localhost", "beta.localhost"]) {
      const r = await read(host, { iss: "http://acme.localhost:8080/", tenant_id: "beta" });
      expect(r.status).toBe(401);
      expect(r.body).toContain('issued by tenant \\"acme\\"');
      expect(r.forwarded).toBe(0);
    }
  });

  test("an issuer that only looks like a tenant's is not trusted", async () => {
    for (const iss of ["http://acme.localhost:8080/evil/", "http://acme.localhost.evil.example:8080/", "https://acme.localhost:8080/"]) {
      const r = await read("acme.localhost", { iss, tenant_id: "acme" });
      expect(r.status).toBe(401);
      expect(r.body).toContain("is not trusted");
    }
  });

  test("a tenant's custom domain is its issuer too, for that tenant only", async () => {
    const put = await gw.request("localhost", "/api/v2/tenants/acme/domains/login.acme.com", { method: "PUT", token: await gw.token({ permissions: ["update:tenants"] }) });
    expect(put.status).toBe(200);
    expect(await read("acme.localhost", { iss: "http://login.acme.com/", tenant_id: "acme" })).toMatchObject({ status: 200, forwarded: 1 });
    expect((await read("acme.localhost", { iss: "http://login.acme.com/", tenant_id: "beta" })).status).toBe(401);
    for (const iss of ["https://login.acme.com/", "http://login.acme.com/x", "http://login.beta.com/", "http://LOGIN.acme.com/"]) {
      expect((await read("acme.localhost", { iss, tenant_id: "acme" })).status).toBe(401);
    }
  });

  test("the control plane's issuer is still accepted", async () => {
    const r = await read("localhost", { iss: ISSUER, permissions: ["read:users"] });
    expect(r.status).not.toBe(401);
  });
});
