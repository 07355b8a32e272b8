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
  /** After a failed fetch the next waits `first` ms, doubling up to `max`; a fetch that answers resets it. */
  retry?: { firstMs: number; maxMs: number };
}

export const JWKS_RETRY = { firstMs: 500, maxMs: 10_000 };

/**
 * jose refetches the JWKS for every uncached token while fetching fails (its cooldown starts only
 * after a fetch that worked): during an outage each request paid a fetch, or the whole timeout when
 * the endpoint hangs. So a failure makes the next fetch wait, and a fetch asked for meanwhile fails
 * at once with the last problem.
 */
export class FetchRetry {
  private failures = 0;
  private retryAt = 0;
  private problem = "";

  constructor(private readonly o: { firstMs: number; maxMs: number }) {}

  /** Why a fetch may not go out now, or undefined when it may. */
  waiting(now = Date.now()): string | undefined {
    if (now >= this.retryAt) return undefined;
    return `${this.problem}; the next attempt in ${((this.retryAt - now) / 1000).toFixed(1)} s`;
  }

  failed(problem: string, now = Date.now()): void {
    this.failures++;
    this.problem = problem;
    this.retryAt = now + Math.min(this.o.maxMs, this.o.firstMs * 2 ** (this.failures - 1));
  }

  answered(): void {
    this.failures = 0;
    this.retryAt = 0;
  }
}

/** A fetch refused because an earlier one failed: not a new failure. */
class StillFailing extends Error {}

/**
 * The keys a token may be signed with: extra local keys (the dev key) first when the token's kid is
 * one of theirs, the upstream's JWKS otherwise. jose's remote set caches the JWKS and refetches on
 * an unknown kid at most once per cooldown; after a failed fetch, `FetchRetry` spaces the next.
 * A JWKS that cannot be fetched is the gateway's problem, not the client's: 503, never 401.
 */
export function keySource(opts: KeySourceOptions): JWTVerifyGetKey {
  const local = opts.localJwks ? createLocalJWKSet(opts.localJwks) : undefined;
  const localKids = new Set((opts.localJwks?.keys ?? []).map((k) => k.kid).filter((k) => k !== undefined));
  const url = opts.jwksUrl;
  const retry = new FetchRetry(opts.retry ?? JWKS_RETRY);
  const fetchKeys: FetchImplementation = async (at, init) => {
    const waiting = retry.waiting();
    if (waiting !== undefined) throw new StillFailing(waiting);
    const response = await statusReportingFetch(at, init);
    retry.answered();
    return response;
  };
  const remote = url
    ? createRemoteJWKSet(new URL(url), {
        cooldownDuration: opts.cooldownMs,
        timeoutDuration: opts.timeoutMs,
        [customFetch]: fetchKeys,
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
      const problem = fetchProblem(err, opts.timeoutMs);
      if (!(err instanceof StillFailing)) retry.failed(problem);
      throw new HttpError(503, `cannot fetch signing keys from ${url}: ${problem}`);
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
