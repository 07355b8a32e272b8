import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  type FetchImplementation,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from "jose";
import { HttpError } from "../http-error.ts";

export interface KeySourceOptions {
  jwksUrl?: string;
  localJwks?: JSONWebKeySet;
  cooldownMs: number;
  timeoutMs: number;
}

/**
 * The keys a token may be signed with: extra local keys (the dev key) first when the token's kid is
 * one of theirs, the upstream's JWKS otherwise. jose's remote set caches the JWKS and refetches on
 * an unknown kid at most once per cooldown, which is the rate limit the gateway needs.
 * A JWKS that cannot be fetched is the gateway's problem, not the client's: 503, never 401.
 */
export function keySource(opts: KeySourceOptions): JWTVerifyGetKey {
  const local = opts.localJwks ? createLocalJWKSet(opts.localJwks) : undefined;
  const localKids = new Set((opts.localJwks?.keys ?? []).map((k) => k.kid).filter((k) => k !== undefined));
  const url = opts.jwksUrl;
  const remote = url
    ? createRemoteJWKSet(new URL(url), {
        cooldownDuration: opts.cooldownMs,
        timeoutDuration: opts.timeoutMs,
        [customFetch]: statusReportingFetch,
      })
    : undefined;

  return async (header, token) => {
    if (local && (!remote || (header.kid !== undefined && localKids.has(header.kid)))) {
      return local(header, token);
    }
    if (!remote || !url) throw new errors.JWKSNoMatchingKey();
    try {
      return await remote(header, token);
    } catch (err) {
      // Not finding the kid is about the token; anything else is about reaching the key set.
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      throw new HttpError(503, `cannot fetch signing keys from ${url}: ${fetchProblem(err, opts.timeoutMs)}`);
    }
  };
}

// jose's own non-200 error does not say which status came back; operators need it.
const statusReportingFetch: FetchImplementation = async (url, init) => {
  const response = await fetch(url, init);
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  return response;
};

function fetchProblem(err: unknown, timeoutMs: number): string {
  if (err instanceof errors.JWKSTimeout) return `no answer within ${timeoutMs} ms`;
  if (err instanceof errors.JWKSInvalid) return "the response is not a JSON Web Key Set";
  if (err instanceof Error) return err.message;
  return String(err);
}
