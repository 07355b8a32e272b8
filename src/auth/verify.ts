import { jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import { HttpError } from "../http-error.ts";
import { TrustedIssuers } from "./issuers.ts";
import { keySource } from "./key-source.ts";
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
}

// Asymmetric only: with HS* allowed, a token "signed" with the public key as an HMAC secret would
// pass, and alg "none" is never acceptable. jose refuses both before looking up a key.
const ALGORITHMS = ["RS256", "ES256", "EdDSA"];

// Real tokens are a few KB at most; refusing giants early bounds the work an anonymous client causes.
const MAX_TOKEN_LENGTH = 16_384;

export class TokenVerifier {
  readonly #keys: JWTVerifyGetKey;
  /** Verified tokens, by their digest; the gateway keeps whom each speaks for on its entry. */
  readonly tokens: TokenCache<VerifiedToken>;
  readonly #options: JWTVerifyOptions;
  readonly #audience: string;
  readonly issuers: TrustedIssuers;

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

    this.#keys = keySource({ jwksUrl: opts.jwksUrl, localJwks: opts.localJwks, cooldownMs, timeoutMs });
    this.tokens = new TokenCache(Math.floor(cacheMax));
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

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys, this.#options));
    } catch (err) {
      throw refusal(err, token, this.#audience);
    }
    this.issuers.check(payload.iss);
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
