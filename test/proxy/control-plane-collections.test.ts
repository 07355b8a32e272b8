import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { createTenants, rawRequest, startUpstream, type UpstreamDouble } from "../support/upstream.ts";

// Issue 18: AuthHero's /api/v2/keys answers the signing keys every tenant's tokens are signed with,
// private keys included, and rotates or revokes them. On a child tenant's host the gateway refuses
// it to the tenant's own tokens however the path is spelled, through both transports: each request
// on a connection of its own, so that with the front door every one meets its fast lane (a
// connection it hands over stays with the full gateway), which forwards a management read itself
// once it knows the token. The control plane's host forwards it. (A control-plane token without an
// organization manages the control plane only, on any host.)

for (const transport of ["front door", "no front door"] as const) {
  describe(transport, () => {
    let up: UpstreamDouble;
    let gw: TestGateway;
    let acmeAdmin: string;
    let cpAdmin: string;
    beforeAll(async () => {
      up = startUpstream();
      gw = await startGateway(["--upstream", up.url, ...(transport === "no front door" ? ["--no-front-door"] : [])]);
      await createTenants(gw, ["acme"]);
      acmeAdmin = await gw.orgToken("acme", ["read:signing_keys", "create:signing_keys", "update:signing_keys", "read:roles"]);
      cpAdmin = await gw.token({ permissions: ["read:signing_keys"] });
      up.take();
    });
    afterAll(async () => {
      await gw?.stop();
      up?.stop();
    });

    /** One request on a fresh connection: its status and, for a refusal, the message. */
    const ask = async (host: string, path: string, token?: string, method = "GET") => {
      const res = await rawRequest(Number(new URL(gw.url).port), path, { host, ...(token ? { authorization: `Bearer ${token}` } : {}) }, method);
      return { status: res.status, message: res.status >= 400 ? (JSON.parse(res.body) as { message: string }).message : "", tenant: res.status === 200 ? (JSON.parse(res.body) as { tenant: string }).tenant : undefined };
    };
    const REFUSED = { status: 403, message: expect.stringContaining('"keys" is the control plane\'s (the signing keys every tenant\'s tokens are signed with): tenant "acme" can neither read nor change it; manage it on the control plane') };

    const spellings = ["/api/v2/keys/signing", "/api/v2/KEYS/signing", "/api/v2/keys", "/api/v2//keys/signing", "/api/v2/%6Beys/signing", "/api/v2/x/../keys/signing/kid_1"];
    test.each(spellings)("GET %s on a child tenant's host → 403, nothing forwarded (asked twice: the second time the token is known)", async (path) => {
      for (let i = 0; i < 2; i++) expect(await ask("acme.localhost", path, acmeAdmin)).toMatchObject(REFUSED);
      expect(up.take()).toEqual([]);
    });

    test.each([
      ["POST", "/api/v2/keys/signing/rotate"],
      ["PUT", "/api/v2/keys/signing/kid_1/revoke"],
    ])("%s %s on a child tenant's host → 403", async (method, path) => {
      expect(await ask("acme.localhost", path, acmeAdmin, method)).toMatchObject(REFUSED);
      expect(up.take()).toEqual([]);
    });

    test("the control plane's host forwards it; a child tenant's other collections are forwarded", async () => {
      expect(await ask("localhost", "/api/v2/keys/signing", cpAdmin)).toMatchObject({ status: 200, tenant: "control_plane" });
      expect(await ask("acme.localhost", "/api/v2/roles", acmeAdmin)).toMatchObject({ status: 200, tenant: "acme" });
      expect(await ask("acme.localhost", "/api/v2/keysets", acmeAdmin)).toMatchObject({ status: 200, tenant: "acme" });
      expect(up.take().map((r) => r.path)).toEqual(["/api/v2/keys/signing", "/api/v2/roles", "/api/v2/keysets"]);
    });

    test("without a token: 401, as before", async () => {
      expect((await ask("acme.localhost", "/api/v2/keys/signing")).status).toBe(401);
      expect(up.take()).toEqual([]);
    });
  });
}
