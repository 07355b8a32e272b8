import { jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import { HttpError } from "../http-error.ts";
import { TrustedIssuers } from "./issuers.ts";
import { JWKS_RETRY, keySource } from "./key-source.ts";
import type { Principal } from "./principal.ts";
import { refusal } from "./refusal.ts";
import { TokenCache } from "./token-cache.ts";

/** A token that passed verification, kept until its exp (auth/token-cache.ts). */
export interface VerifiedToken {
  claims: JWTPayload;
  expiresAtMs: number;
  /**
   * Whom it speaks for, as the gateway read it at a registry generation (which maps organizations
   * to tenants): kept on the same entry, so the main thread knows each token once.
   */
  speaksFor?: { principal: Principal; generation: number };
}

export interface TokenVerifierOptions {
  /** The upstream's key set, e.g. `https://auth.example.com/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** Extra trusted keys (the dev key); used for tokens whose kid is in this set. */
  localJwks?: JSONWebKeySet;
  issuers: string[];
  /** Each tenant's own issuer, `{tenant}` standing for its id (e.g. `https://{tenant}.auth.example.com/`). */
  tenantIssuer?: string;
  /** With `tenantIssuer`: the tenant a custom domain belongs to, whose URL is then that tenant's issuer too. */
  customDomainTenant?: (host: string) => string | undefined;
  audience: string;
  /** Allowed clock skew on exp and nbf. Default 60. */
  clockToleranceSec?: number;
  /** Verified tokens kept in memory. Default 10000; 0 disables the cache. */
  cacheMax?: number;
  /** At most one JWKS refetch per this period on an unknown kid. Default 30000. */
  jwksCooldownMs?: number;
  /** Default 5000. */
  jwksTimeoutMs?: number;
  /** After a failed JWKS fetch the next waits firstMs, doubling to maxMs (default: JWKS_RETRY). */
  jwksRetry?: { firstMs: number; maxMs: number };
}

// Asymmetric only: with HS* allowed, a token "signed" with the public key as an HMAC secret would
// pass, and alg "none" is never acceptable. jose refuses both before looking up a key.
const ALGORITHMS = ["RS256", "ES256", "EdDSA"];

/**
 * A refusal is remembered this long, by the token's digest: the front door's thread asks about a
 * fresh connection's token and, told no, hands the request to the HTTP server, which would verify
 * the same token again (and, while the keys cannot be fetched, try the fetch again). Short, and
 * never longer than the JWKS cooldown or the first retry wait, the soonest a refetch could change
 * the verdict: a token that was early (nbf) or signed by a key just rotated in is not refused long.
 */
const REFUSAL_KEPT_MS = 1000;

// Real tokens are a few KB at most; refusing giants early bounds the work an anonymous client causes.
const MAX_TOKEN_LENGTH = 16_384;

export class TokenVerifier {
  readonly #keys: JWTVerifyGetKey;
  /** Verified tokens, by their digest; the gateway keeps whom each speaks for on its entry. */
  readonly tokens: TokenCache<VerifiedToken>;
  readonly #options: JWTVerifyOptions;
  readonly #audience: string;
  readonly issuers: TrustedIssuers;
  /** Full verifications (cache hits are not counted), by outcome: what /metrics reports. */
  readonly verifications = { accepted: 0, refused: 0, unavailable: 0 };
  readonly #refusals: TokenCache<{ refusal: HttpError; expiresAtMs: number }>;
  readonly #refusalKeptMs: number;

  constructor(opts: TokenVerifierOptions) {
    if (!opts.jwksUrl && !opts.localJwks) throw new TypeError("TokenVerifier needs jwksUrl or localJwks");
    if (opts.jwksUrl !== undefined && !/^https?:\/\//.test(opts.jwksUrl)) {
      throw new TypeError(`jwksUrl must be an http(s) URL, got ${JSON.stringify(opts.jwksUrl)}`);
    }
    if (opts.issuers.length === 0 || opts.issuers.some((i) => i === "")) {
      throw new TypeError("TokenVerifier needs at least one non-empty issuer");
    }
    if (opts.audience === "") throw new TypeError("TokenVerifier needs an audience");
    const clockToleranceSec = nonNegative(opts.clockToleranceSec ?? 60, "clockToleranceSec");
    const cacheMax = nonNegative(opts.cacheMax ?? 10_000, "cacheMax");
    const cooldownMs = nonNegative(opts.jwksCooldownMs ?? 30_000, "jwksCooldownMs");
    const timeoutMs = Math.round(nonNegative(opts.jwksTimeoutMs ?? 5_000, "jwksTimeoutMs"));

    const retry = opts.jwksRetry ?? JWKS_RETRY;
    this.#keys = keySource({ jwksUrl: opts.jwksUrl, localJwks: opts.localJwks, cooldownMs, timeoutMs, retry });
    this.#refusalKeptMs = Math.min(REFUSAL_KEPT_MS, cooldownMs, retry.firstMs);
    this.tokens = new TokenCache(Math.floor(cacheMax));
    this.#refusals = new TokenCache(Math.floor(cacheMax));
    this.#audience = opts.audience;
    this.issuers = new TrustedIssuers(opts.issuers, opts.tenantIssuer, opts.customDomainTenant);
    this.#options = {
      algorithms: ALGORITHMS,
      // With a tenant pattern jose cannot check `iss` against a list; `TrustedIssuers` does, below.
      issuer: this.issuers.hasTenantPattern ? undefined : [...opts.issuers],
      audience: opts.audience,
      clockTolerance: clockToleranceSec,
      // Without exp a token would be valid forever (and cacheable forever).
      requiredClaims: this.issuers.hasTenantPattern ? ["exp", "iss"] : ["exp"],
    };
  }

  /** Entries in the verified-token cache (for tests and metrics). */
  get cacheSize(): number {
    return this.tokens.size;
  }

  /** The token's claims, or an HttpError: 401 for a bad token, 503 when the JWKS is unreachable. */
  async verify(token: string): Promise<JWTPayload> {
    if (token.length > MAX_TOKEN_LENGTH) {
      throw new HttpError(401, `token is malformed (longer than ${MAX_TOKEN_LENGTH} characters)`);
    }
    const cached = this.tokens.get(token);
    if (cached) return cached.claims;
    const refused = this.#refusals.get(token);
    if (refused) throw refused.refusal;

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys, this.#options));
      this.issuers.check(payload.iss);
    } catch (err) {
      const refused = refusal(err, token, this.#audience);
      this.verifications[refused.status === 503 ? "unavailable" : "refused"]++;
      this.#refusals.set(token, { refusal: refused, expiresAtMs: Date.now() + this.#refusalKeptMs });
      throw refused;
    }
    this.verifications.accepted++;
    // Cached payloads are shared between requests, so nobody may change them.
    deepFreeze(payload);
    // A token without exp would stay valid forever in the cache; the verifier requires exp anyway.
    if (typeof payload.exp === "number") this.tokens.set(token, { claims: payload, expiresAtMs: payload.exp * 1000 });
    return payload;
  }
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a non-negative number`);
  return value;
}

function deepFreeze(value: unknown): void {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}
