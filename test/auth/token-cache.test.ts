import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Principal } from "../../src/auth/principal.ts";
import { TokenCache, tokenKey } from "../../src/auth/token-cache.ts";
import { Answers, type TokenAnswer } from "../../src/front/answers.ts";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { createTenants, rawRequest, startUpstream, type UpstreamDouble } from "../support/upstream.ts";

// "Who is this token?" is kept in one kind of cache (auth/token-cache.ts), keyed by the token's
// digest: no cache keeps a bearer token itself.

const principal: Principal = { subject: "u", tenant: "acme", via: "organization", permissions: new Set(), isUser: true, claims: {} };

test("entries are known by the token's digest, and none outlives its token", () => {
  const cache = new TokenCache<TokenAnswer>(10);
  const now = 1_000_000;
  cache.set("tok-a", { principal, expiresAtMs: now + 1000 }, now);
  cache.set("tok-gone", { principal, expiresAtMs: now }, now); // expired already: not kept
  cache.set("tok-forever", { principal, expiresAtMs: Number.NaN }, now); // no exp: not kept
  expect(cache.keys()).toEqual([tokenKey("tok-a")]);
  expect(cache.keys().join()).not.toContain("tok-a");
  expect(cache.get("tok-a", now + 999)?.principal).toBe(principal);
  expect(cache.get("tok-a", now + 1000)).toBeUndefined();
  expect(cache.size).toBe(0);
});

test("bounded: the least recently used token goes first; max 0 keeps nothing", () => {
  const cache = new TokenCache<TokenAnswer>(2);
  const entry = { principal, expiresAtMs: Date.now() + 60_000 };
  cache.set("t1", entry);
  cache.set("t2", entry);
  cache.get("t1");
  cache.set("t3", entry);
  expect(cache.keys()).toEqual([tokenKey("t1"), tokenKey("t3")]);
  const none = new TokenCache<TokenAnswer>(0);
  none.set("t1", entry);
  expect(none.size).toBe(0);
});

test("the front door's memory keeps no header as a key, also while a question is out", async () => {
  let answer!: (a: TokenAnswer) => void;
  const answers = new Answers(new Int32Array(new SharedArrayBuffer(4)), {
    tenantOf: async () => null,
    principal: () => new Promise<TokenAnswer | null>((resolve) => (answer = resolve)),
  });
  const header = "Bearer secret-token";
  const pending = answers.principal(header);
  const inner = answers as unknown as { tokens: TokenCache<TokenAnswer>; asking: Map<string, unknown> };
  expect([...inner.asking.keys()].join()).not.toContain("secret-token");
  answer({ principal, expiresAtMs: Date.now() + 60_000 });
  expect((await pending).tenant).toBe("acme");
  expect(inner.tokens.keys()).toEqual([tokenKey(header)]);
  expect(answers.principal(header)).toBe(principal);
});

let up: UpstreamDouble;
let front: TestGateway;
let fetchPath: TestGateway;
beforeAll(async () => {
  up = startUpstream();
  [front, fetchPath] = await Promise.all([startGateway(["--upstream", up.url]), startGateway(["--upstream", up.url, "--no-front-door"])]);
  await Promise.all([createTenants(front, ["acme"]), createTenants(fetchPath, ["acme"])]);
});
afterAll(async () => {
  await Promise.all([front?.stop(), fetchPath?.stop()]);
  up?.stop();
});

test.each([
  ["through the front door", () => front],
  ["with --no-front-door", () => fetchPath],
])("%s: the main thread knows a token once, by its digest, with whom it speaks for", async (_name, which) => {
  const gw = which();
  const admin = await gw.token();
  const org = await gw.orgToken("acme", ["read:users"]);
  expect((await gw.request("localhost", "/api/v2/tenants", { token: admin })).status).toBe(200);
  expect((await gw.request("acme.localhost", "/api/v2/users", { token: org })).status).toBe(200);
  const tokens = gw.gateway.parts.verifier.tokens;
  const keys = tokens.keys();
  expect(keys).toContain(tokenKey(admin));
  expect(keys).toContain(tokenKey(org));
  for (const token of [admin, org]) expect(keys.some((k) => k.includes(token))).toBe(false);
  expect(tokens.get(org)?.speaksFor?.principal.tenant).toBe("acme");
});

describe("a refused token is verified once per request, on both transports", () => {
  let up: UpstreamDouble;
  const gateways: Record<string, TestGateway> = {};
  beforeAll(async () => {
    up = startUpstream();
    for (const [name, flags] of [["front door", []], ["no front door", ["--no-front-door"]]] as const) {
      gateways[name] = await startGateway(["--upstream", up.url, ...flags]);
      await createTenants(gateways[name], ["acme"]);
    }
  });
  afterAll(async () => {
    for (const gw of Object.values(gateways)) await gw.stop();
    up?.stop();
  });

  const verified = async (gw: TestGateway, outcome: string) => {
    const text = await (await gw.request("localhost", "/metrics")).text();
    return Number(new RegExp(`^tenantgate_token_verifications_total\\{outcome="${outcome}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
  };

  for (const name of ["front door", "no front door"]) {
    test(name, async () => {
      const gw = gateways[name] as TestGateway;
      const good = await gw.orgToken("acme", ["read:users"]);
      // The same token with another signature: it parses, and only verification refuses it.
      const forged = `${good.split(".").slice(0, 2).join(".")}.${Buffer.from("not the signature").toString("base64url")}`;
      const before = await verified(gw, "refused");
      // A connection of its own: the front door decides a fresh connection's first request itself
      // (it asks the main thread about the token) and hands a refused one to the HTTP server.
      const res = await rawRequest(gw.gateway.port, "/api/v2/users", { host: "acme.localhost", authorization: `Bearer ${forged}` });
      expect(res.status).toBe(401);
      expect(res.body).toContain("token signature is invalid");
      expect(await verified(gw, "refused")).toBe(before + 1);
      expect(up.take()).toEqual([]);
    });
  }
});
