import { createHash } from "node:crypto";
import type { JWTPayload } from "jose";

interface Entry {
  payload: JWTPayload;
  expiresAtMs: number;
}

/**
 * Payloads of tokens that already passed verification, so a hot client does not pay a signature
 * check per request. Keyed by the token's SHA-256 so bearer tokens are not kept around as map keys.
 * Map insertion order doubles as recency order: a hit re-inserts, eviction takes the first key.
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.#entries.size;
  }

  get(token: string, nowMs: number): JWTPayload | undefined {
    const key = digest(token);
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    // Past exp the token must go through full verification again (which applies the clock skew).
    if (entry.expiresAtMs <= nowMs) return undefined;
    this.#entries.set(key, entry);
    return entry.payload;
  }

  put(token: string, payload: JWTPayload, nowMs: number): void {
    // A token without exp would stay valid forever in the cache; the verifier requires exp anyway.
    if (this.max <= 0 || typeof payload.exp !== "number") return;
    const expiresAtMs = payload.exp * 1000;
    if (expiresAtMs <= nowMs) return;
    const key = digest(token);
    this.#entries.delete(key);
    this.#entries.set(key, { payload, expiresAtMs });
    while (this.#entries.size > this.max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
