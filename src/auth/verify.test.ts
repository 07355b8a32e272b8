import { afterAll, afterEach, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import { createHmac } from "node:crypto";
import { exportSPKI } from "jose";
import { HttpError } from "../http-error.ts";
import { TokenVerifier, type TokenVerifierOptions } from "./index.ts";
import { closedUrl, sleep, startJwksServer, type JwksServer } from "../../test/auth/jwks-server.ts";
import { FetchRetry } from "./key-source.ts";
import { AUDIENCE, b64url, ISSUER, now, signingKey, token, type SigningKey } from "../../test/auth/signing-keys.ts";

let rsa: SigningKey;
let ec: SigningKey;
let ed: SigningKey;
let stranger: SigningKey; // same kid as `ec`, different key: signs forgeries
const servers: JwksServer[] = [];

beforeAll(async () => {
  [rsa, ec, ed, stranger] = await Promise.all([
    signingKey("RS256", "rsa-1"),
    signingKey("ES256", "ec-1"),
    signingKey("EdDSA", "ed-1"),
    signingKey("ES256", "ec-1"),
  ]);
});

afterEach(() => setSystemTime());
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

function serve(...keys: SigningKey[]): JwksServer {
  const server = startJwksServer({ keys: keys.map((k) => k.publicJwk) });
  servers.push(server);
  return server;
}

function verifier(server: JwksServer | string, extra: Partial<TokenVerifierOptions> = {}): TokenVerifier {
  const jwksUrl = typeof server === "string" ? server : server.url;
  return new TokenVerifier({ jwksUrl, issuers: [ISSUER, "https://other-issuer.example.com/"], audience: AUDIENCE, ...extra });
}

async function refusalOf(promise: Promise<unknown>): Promise<HttpError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw new Error(`expected an HttpError, got ${String(err)}`);
  }
  throw new Error("expected a refusal, but the token was accepted");
}

describe("token cases", () => {
  let server: JwksServer;
  let v: TokenVerifier;
  beforeAll(() => {
    server = serve(rsa, ec, ed);
    v = verifier(server);
  });

  const accepted: Array<[string, () => Promise<string>]> = [
    ["RS256", () => token(rsa)],
    ["ES256", () => token(ec)],
    ["EdDSA", () => token(ed)],
    ["second trusted issuer", () => token(rsa, { iss: "https://other-issuer.example.com/" })],
    ["audience in an array", () => token(rsa, { aud: ["urn:other", AUDIENCE] })],
    ["expired 30 s ago (within the 60 s skew)", () => token(ec, { exp: now() - 30 })],
    ["nbf 30 s ahead (within the skew)", () => token(ed, { nbf: now() + 30 })],
  ];
  for (const [name, make] of accepted) {
    test(`accepts ${name}`, async () => {
      const t = await make();
      const payload = await v.verify(t);
      expect(payload.sub).toBe("client_abc");
      expect(payload.aud).toContain(AUDIENCE);
    });
  }

  const expiredAt = now() - 120;
  const refused: Array<[string, () => Promise<string>, string]> = [
    ["expired beyond the skew", () => token(rsa, { exp: expiredAt }), `token expired at ${new Date(expiredAt * 1000).toISOString()}`],
    ["nbf beyond the skew", () => token(rsa, { nbf: now() + 600 }), "token is not valid before "],
    ["no exp", () => token(rsa, { exp: undefined }), "token claim exp is missing"],
    ["untrusted issuer", () => token(rsa, { iss: "https://evil.example.com/" }), 'token issuer "https://evil.example.com/" is not trusted'],
    ["no issuer", () => token(rsa, { iss: undefined }), "token claim iss is missing"],
    ["wrong audience", () => token(ec, { aud: "urn:other" }), `token audience "urn:other" does not include "${AUDIENCE}"`],
    ["no audience", () => token(ec, { aud: undefined }), "token claim aud is missing"],
    ["exp that is not a number", () => token(ed, { exp: "tomorrow" }), "token claim exp is invalid"],
    [
      "alg none",
      async () => `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ iss: ISSUER, aud: AUDIENCE, sub: "x", exp: now() + 600 })}.`,
      "token algorithm none is not allowed",
    ],
    [
      "HS256 keyed with the RSA public key's PEM",
      async () => hmacToken(await exportSPKI(rsa.publicKey)),
      "token algorithm HS256 is not allowed",
    ],
    [
      "HS256 keyed with the RSA public JWK",
      async () => hmacToken(JSON.stringify(rsa.publicJwk)),
      "token algorithm HS256 is not allowed",
    ],
    ["a payload swapped in from another token", () => swapPayload(), "token signature is invalid"],
    ["a signature by another key under a trusted kid", () => token(stranger), "token signature is invalid"],
    ["an empty string", async () => "", "token is malformed"],
    ["a word", async () => "not-a-token", "token is malformed"],
    ["three garbage segments", async () => "a.b.c", "token is malformed"],
    ["two segments", async () => `${b64url({ alg: "RS256" })}.${b64url({})}`, "token is malformed"],
    ["a giant", async () => `${"a".repeat(20_000)}.b.c`, "token is malformed"],
    [
      "a signed payload that is not a JSON object",
      async () => signedRaw(ec, "[1,2,3]"),
      "token is malformed",
    ],
  ];
  for (const [name, make, message] of refused) {
    test(`refuses ${name} with 401`, async () => {
      const err = await refusalOf(v.verify(await make()));
      expect(err.status).toBe(401);
      expect(err.message).toContain(message);
    });
  }

  test("refusals are not cached", async () => {
    const fresh = verifier(server);
    await refusalOf(fresh.verify(await token(rsa, { iss: "https://evil.example.com/" })));
    expect(fresh.cacheSize).toBe(0);
  });

  function hmacToken(secret: string): string {
    const input = `${b64url({ alg: "HS256", typ: "JWT", kid: rsa.kid })}.${b64url({ iss: ISSUER, aud: AUDIENCE, sub: "x", exp: now() + 600 })}`;
    return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
  }

  async function swapPayload(): Promise<string> {
    const [header, , signature] = (await token(rsa, { sub: "client_abc" })).split(".");
    const [, payload] = (await token(rsa, { sub: "client_admin", permissions: ["create:tenants"] })).split(".");
    return `${header}.${payload}.${signature}`;
  }

  async function signedRaw(key: SigningKey, payload: string): Promise<string> {
    const input = `${b64url({ alg: key.alg, kid: key.kid })}.${b64url(payload)}`;
    const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, new TextEncoder().encode(input));
    return `${input}.${Buffer.from(sig).toString("base64url")}`;
  }
});

describe("JWKS fetching", () => {
  test("an unknown kid right after a fetch does not refetch within the default 30 s cooldown", async () => {
    const server = serve(rsa);
    const v = verifier(server);
    await v.verify(await token(rsa));
    expect(server.hits).toBe(1);
    const err = await refusalOf(v.verify(await token(rsa, {}, { kid: "ghost" })));
    expect(err.status).toBe(401);
    expect(err.message).toBe("no key with kid ghost in the JWKS");
    expect(server.hits).toBe(1);
  });

  test("an unknown kid refetches once per cooldown", async () => {
    const server = serve(rsa);
    const v = verifier(server, { jwksCooldownMs: 150 });
    await v.verify(await token(rsa));
    expect(server.hits).toBe(1);
    await sleep(200);

    const ghost = await token(rsa, {}, { kid: "ghost" });
    expect((await refusalOf(v.verify(ghost))).message).toBe("no key with kid ghost in the JWKS");
    expect(server.hits).toBe(2);
    // Within the cooldown: neither the same nor another unknown kid hits the server again.
    expect((await refusalOf(v.verify(ghost))).status).toBe(401);
    expect((await refusalOf(v.verify(await token(rsa, {}, { kid: "phantom" })))).status).toBe(401);
    expect(server.hits).toBe(2);

    await sleep(200);
    await refusalOf(v.verify(ghost));
    expect(server.hits).toBe(3);
  });

  test("concurrent unknown kids share one refetch", async () => {
    const server = serve(rsa);
    const v = verifier(server, { jwksCooldownMs: 100 });
    await v.verify(await token(rsa));
    await sleep(150);
    const ghosts = await Promise.all(Array.from({ length: 20 }, (_, i) => token(rsa, {}, { kid: `ghost-${i}` })));
    const errs = await Promise.all(ghosts.map((g) => refusalOf(v.verify(g))));
    expect(errs.every((e) => e.status === 401)).toBe(true);
    expect(server.hits).toBe(2);
  });

  test("key rotation: a token with the new kid verifies after the refetch", async () => {
    const next = await signingKey("RS256", "rsa-2");
    const server = serve(rsa);
    const v = verifier(server, { jwksCooldownMs: 100 });
    await v.verify(await token(rsa));
    server.answer({ keys: [rsa.publicJwk, next.publicJwk] });

    const rotated = await token(next);
    // Still cooling down from the first fetch: the new kid is not known yet.
    expect((await refusalOf(v.verify(rotated))).message).toBe("no key with kid rsa-2 in the JWKS");
    expect(server.hits).toBe(1);

    await sleep(150);
    const payload = await v.verify(rotated);
    expect(payload.sub).toBe("client_abc");
    expect(server.hits).toBe(2);
  });

  test("a JWKS server that is down is a 503, not a 401", async () => {
    const url = await closedUrl();
    const err = await refusalOf(verifier(url).verify(await token(rsa)));
    expect(err.status).toBe(503);
    expect(err.message).toStartWith(`cannot fetch signing keys from ${url}: `);
  });

  const broken: Array<[string, () => Response, string]> = [
    ["a 500", () => new Response("boom", { status: 500 }), "HTTP 500"],
    ["a redirect", () => new Response(null, { status: 302, headers: { location: "http://127.0.0.1:1/" } }), "HTTP 302"],
    ["invalid JSON", () => new Response("{not json", { headers: { "content-type": "application/json" } }), "JSON"],
    ["JSON that is no key set", () => Response.json({ hello: "world" }), "not a JSON Web Key Set"],
  ];
  for (const [name, answer, detail] of broken) {
    test(`a JWKS endpoint answering ${name} is a 503`, async () => {
      const server = serve();
      server.answer(answer);
      const err = await refusalOf(verifier(server).verify(await token(rsa)));
      expect(err.status).toBe(503);
      expect(err.message).toStartWith(`cannot fetch signing keys from ${server.url}: `);
      expect(err.message).toContain(detail);
    });
  }

  test("a JWKS endpoint that never answers is a 503 after the timeout", async () => {
    const server = serve();
    server.answer(() => new Promise<Response>(() => {}));
    const started = performance.now();
    const err = await refusalOf(verifier(server, { jwksTimeoutMs: 200 }).verify(await token(rsa)));
    expect(err.status).toBe(503);
    expect(err.message).toContain("no answer within 200 ms");
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  test("an outage is not sticky: once the retry wait is over, the next request fetches again", async () => {
    const server = serve();
    server.answer(() => new Response("down", { status: 503 }));
    const v = verifier(server, { jwksRetry: { firstMs: 100, maxMs: 100 } });
    expect((await refusalOf(v.verify(await token(rsa)))).status).toBe(503);
    server.answer({ keys: [rsa.publicJwk] });
    await sleep(150);
    expect((await v.verify(await token(rsa))).sub).toBe("client_abc");
    expect(server.hits).toBe(2);
  });

  test("while fetching fails, uncached tokens do not each fetch: one attempt, then none until the retry wait is over", async () => {
    const server = serve();
    server.answer(() => new Response("down", { status: 500 }));
    const v = verifier(server, { jwksRetry: { firstMs: 60_000, maxMs: 60_000 } });
    const first = await refusalOf(v.verify(await token(rsa)));
    expect(first.message).toBe(`cannot fetch signing keys from ${server.url}: HTTP 500`);
    for (let i = 0; i < 20; i++) {
      const err = await refusalOf(v.verify(await token(rsa, { sub: `client_${i}` })));
      expect(err.status).toBe(503);
      expect(err.message).toMatch(/^cannot fetch signing keys from .*: HTTP 500; the next attempt in \d+\.\d s$/);
    }
    expect(server.hits).toBe(1);
  });

  test("a JWKS endpoint that hangs costs one timeout, not one per request", async () => {
    const server = serve();
    server.answer(() => new Promise<Response>(() => {}));
    const v = verifier(server, { jwksTimeoutMs: 200, jwksRetry: { firstMs: 60_000, maxMs: 60_000 } });
    expect((await refusalOf(v.verify(await token(rsa)))).message).toContain("no answer within 200 ms");
    const again = await refusalOf(v.verify(await token(rsa, { sub: "another" })));
    expect(again.message).toContain("no answer within 200 ms; the next attempt in");
    expect(server.hits).toBe(1);
  });

  test("the wait doubles with each failed attempt, up to its most, and an answer resets it", () => {
    const retry = new FetchRetry({ firstMs: 500, maxMs: 10_000 });
    const waits: number[] = [];
    let now = 0;
    for (let i = 0; i < 7; i++) {
      retry.failed("HTTP 500", now);
      let waited = 0;
      while (retry.waiting(now + waited) !== undefined) waited += 100;
      waits.push(waited);
      now += waited;
    }
    expect(waits).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(retry.waiting(now - 1)).toBe("HTTP 500; the next attempt in 0.0 s");
    retry.answered();
    retry.failed("HTTP 502", now);
    expect(retry.waiting(now)).toBe("HTTP 502; the next attempt in 0.5 s");
  });

  test("local keys verify tokens with their kid without touching the server; others go remote", async () => {
    const dev = await signingKey("RS256", "dev-1");
    const server = serve(rsa);
    const v = verifier(server, { localJwks: { keys: [dev.publicJwk] } });
    expect((await v.verify(await token(dev))).sub).toBe("client_abc");
    expect(server.hits).toBe(0);
    expect((await v.verify(await token(rsa))).sub).toBe("client_abc");
    expect(server.hits).toBe(1);
    // The kid picks the key set: a dev-signed token under the upstream's kid is checked (and fails)
    // against the upstream's key, and an upstream-signed token under the dev kid against the dev key.
    expect((await refusalOf(v.verify(await token(dev, {}, { kid: rsa.kid })))).message).toBe("token signature is invalid");
    expect((await refusalOf(v.verify(await token(rsa, {}, { kid: dev.kid })))).message).toBe("token signature is invalid");
  });

  test("with local keys only, an unknown kid is a 401", async () => {
    const dev = await signingKey("RS256", "dev-1");
    const v = new TokenVerifier({ localJwks: { keys: [dev.publicJwk] }, issuers: [ISSUER], audience: AUDIENCE });
    const err = await refusalOf(v.verify(await token(rsa)));
    expect(err.status).toBe(401);
    expect(err.message).toBe("no key with kid rsa-1 in the JWKS");
  });

  test("misconfiguration is refused at construction", () => {
    expect(() => new TokenVerifier({ issuers: [ISSUER], audience: AUDIENCE })).toThrow("jwksUrl or localJwks");
    expect(() => verifier("file:///etc/passwd")).toThrow("http(s) URL");
    expect(() => new TokenVerifier({ jwksUrl: "http://x/", issuers: [], audience: AUDIENCE })).toThrow("issuer");
    expect(() => verifier("http://x/", { cacheMax: -1 })).toThrow("cacheMax");
  });
});

describe("verified-token cache", () => {
  let server: JwksServer;
  beforeAll(() => {
    server = serve(rsa, ec, ed);
  });

  test("a second verify is served from the cache without refetching", async () => {
    const v = verifier(server);
    const before = server.hits;
    const t = await token(ec);
    const first = await v.verify(t);
    expect(server.hits).toBe(before + 1);
    expect(v.cacheSize).toBe(1);
    const second = await v.verify(t);
    expect(second).toBe(first); // the same object: no second verification happened
    expect(server.hits).toBe(before + 1);
    expect(Object.isFrozen(first)).toBe(true);
  });

  test("the cache is bounded at cacheMax and evicts the least recently used token", async () => {
    const v = verifier(server, { cacheMax: 3 });
    const tokens = await Promise.all([1, 2, 3, 4].map((i) => token(rsa, { sub: `client_${i}` })));
    const [t1, t2, t3, t4] = tokens as [string, string, string, string];
    const p1 = await v.verify(t1);
    const p2 = await v.verify(t2);
    const p3 = await v.verify(t3);
    expect(await v.verify(t1)).toBe(p1); // t1 is now the most recently used
    await v.verify(t4); // evicts t2, the least recently used
    expect(v.cacheSize).toBe(3);
    expect(await v.verify(t1)).toBe(p1);
    expect(await v.verify(t3)).toBe(p3);
    const again = await v.verify(t2);
    expect(again).not.toBe(p2);
    expect(again).toEqual(p2);
    expect(v.cacheSize).toBe(3);

    for (let i = 5; i < 12; i++) await v.verify(await token(rsa, { sub: `client_${i}` }));
    expect(v.cacheSize).toBe(3);
  });

  test("cacheMax 0 disables the cache", async () => {
    const v = verifier(server, { cacheMax: 0 });
    const t = await token(rsa);
    const first = await v.verify(t);
    expect(await v.verify(t)).not.toBe(first);
    expect(v.cacheSize).toBe(0);
  });

  test("an entry is never served past the token's exp", async () => {
    const v = verifier(server);
    const start = Date.now();
    const t = await token(ed, { exp: Math.floor(start / 1000) + 120 });
    const cached = await v.verify(t);
    expect(v.cacheSize).toBe(1);

    // 30 s past exp: still within the skew, so full verification accepts it, but not from the cache.
    setSystemTime(new Date(start + 150_000));
    const rechecked = await v.verify(t);
    expect(rechecked).not.toBe(cached);
    expect(v.cacheSize).toBe(0); // and it is not cached again past its exp

    // Beyond the skew: the cache must not hand out what verification refuses.
    setSystemTime(new Date(start + 200_000));
    const err = await refusalOf(v.verify(t));
    expect(err.status).toBe(401);
    expect(err.message).toContain("token expired at");
  });
});
