/** Why a value left an Lru: pushed out to make room, deleted (or cleared), or replaced by `set`. */
export type LeaveReason = "evict" | "delete" | "set";

/**
 * A map of at most `max` entries, the least recently used out first: `get` and `set` count as a
 * use, `peek` and `has` do not. `dispose` hears of every value that leaves, whatever the reason, so
 * what a value holds (a file handle) is released in one place. Map insertion order is the recency
 * order: a use re-inserts, eviction takes the first key.
 *
 * The shape is that of the npm package lru-cache (max, dispose, get, peek, set, delete, clear), so
 * it can take this one's place without its users changing.
 */
export class Lru<K, V> {
  readonly #entries = new Map<K, V>();

  constructor(
    readonly max: number,
    private readonly dispose?: (value: V, key: K, reason: LeaveReason) => void,
  ) {
    if (!(max >= 0)) throw new Error("Lru: max must be a number, zero or more");
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  peek(key: K): V | undefined {
    return this.#entries.get(key);
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  set(key: K, value: V): this {
    const old = this.#entries.get(key);
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (old !== undefined && old !== value) this.dispose?.(old, key, "set");
    while (this.#entries.size > this.max) {
      const [oldestKey, oldest] = this.#entries.entries().next().value as [K, V];
      this.#entries.delete(oldestKey);
      this.dispose?.(oldest, oldestKey, "evict");
    }
    return this;
  }

  delete(key: K): boolean {
    const value = this.#entries.get(key);
    if (value === undefined) return false;
    this.#entries.delete(key);
    this.dispose?.(value, key, "delete");
    return true;
  }

  clear(): void {
    for (const key of [...this.#entries.keys()]) this.delete(key);
  }

  /** Keys, least recently used first. */
  keys(): MapIterator<K> {
    return this.#entries.keys();
  }
}
