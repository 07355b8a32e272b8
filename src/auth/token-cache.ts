import { LRUCache } from "lru-cache";

/** What is kept about a token lasts no longer than the token: `expiresAtMs` is its `exp`. */
export interface Expiring {
  expiresAtMs: number;
}

/**
 * "Who is this token?", answered once and kept for the token's life: what verification found (the
 * verifier and the gateway, one instance on the main thread) or what the main thread said (the front
 * door's thread, which cannot share that memory). Keyed by the token's SHA-256 so bearer tokens are
 * not kept around as map keys; bounded, least recently used out first; nothing is kept without a
 * future exp, and nothing is served at or past it (full verification then decides, with its skew).
 */
export class TokenCache<V extends Expiring> {
  readonly #entries: LRUCache<string, V>;

  /** `max` 0 keeps nothing (`set` refuses; lru-cache would not take a max of 0). */
  constructor(readonly max: number) {
    this.#entries = new LRUCache<string, V>({ max: Math.max(1, max) });
  }

  get size(): number {
    return this.#entries.size;
  }

  get(token: string, nowMs = Date.now()): V | undefined {
    const key = tokenKey(token);
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs > nowMs) return entry;
    this.#entries.delete(key);
    return undefined;
  }

  set(token: string, entry: V, nowMs = Date.now()): void {
    if (this.max <= 0 || !Number.isFinite(entry.expiresAtMs) || entry.expiresAtMs <= nowMs) return;
    this.#entries.set(tokenKey(token), entry);
  }

  clear(): void {
    this.#entries.clear();
  }

  /** The keys held (each a token's digest, never the token), least recently used first. */
  keys(): string[] {
    return [...this.#entries.rkeys()];
  }
}

/**
 * The key a token is known by. Bun's SHA-256 (about 1 µs for a 1 KB token) rather than
 * node:crypto's createHash (about twice that): a hot token pays it on every request.
 */
export function tokenKey(token: string): string {
  return Bun.SHA256.hash(token, "base64");
}
