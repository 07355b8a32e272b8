import type { Principal } from "../auth/index.ts";
import { TokenCache, tokenKey } from "../auth/token-cache.ts";

/** A verified token's principal, good until the token expires. */
export interface TokenAnswer {
  principal: Principal;
  expiresAtMs: number;
}

/** The questions the front door's thread asks the gateway's main thread, which owns the registry and the token check. */
export interface GatewayQuestions {
  /** The tenant a Host header names when it can serve now; null for anything else. */
  tenantOf(host: string): Promise<string | null>;
  /** Null when the token does not verify. */
  principal(authorization: string): Promise<TokenAnswer | null>;
}

/** Hosts kept at most; beyond it the memo starts over (a flood of made-up hosts stays cheap). */
const HOSTS_KEPT = 1024;
/** Tokens kept at most; the least recently used goes first. */
const TOKENS_KEPT = 10_000;

/**
 * What the main thread answered about hosts and tokens, kept on the front door's thread while the
 * registry's generation stands (it moves with any tenant, organization or domain change, so a
 * tenant deleted or a file gone is never answered from here). A question already on its way is
 * not asked twice.
 */
export class Answers {
  private seen = -1;
  private readonly hosts = new Map<string, string | null>();
  private readonly tokens = new TokenCache<TokenAnswer>(TOKENS_KEPT);
  private readonly asking = new Map<string, Promise<unknown>>();

  /** `generation[0]` is the registry's generation, stored there by the main thread. */
  constructor(
    private readonly generation: Int32Array,
    private readonly main: GatewayQuestions,
  ) {}

  tenantOf(host: string): string | undefined | Promise<string | undefined> {
    const asked = this.current();
    const known = this.hosts.get(host);
    if (known !== undefined) return known ?? undefined;
    return this.once(`host ${host}`, () => this.main.tenantOf(host)).then((tenant) => {
      // An answer from before a change is used once, not kept.
      if (this.current() === asked) {
        if (this.hosts.size >= HOSTS_KEPT) this.hosts.clear();
        this.hosts.set(host, tenant);
      }
      return tenant ?? undefined;
    });
  }

  /** Known by the whole header's digest: a hot token costs a hash and one lookup, not a parse. */
  principal(authorization: string | null): TokenAnswer["principal"] | Promise<TokenAnswer["principal"]> {
    if (authorization === null) throw new Error("no token: the full gateway answers 401");
    const asked = this.current();
    const hit = this.tokens.get(authorization);
    if (hit !== undefined) return hit.principal;
    return this.once(`token ${tokenKey(authorization)}`, () => this.main.principal(authorization)).then((answer) => {
      if (answer === null) throw new Error("the token does not verify: the full gateway answers 401");
      if (this.current() === asked) this.tokens.set(authorization, answer);
      return answer.principal;
    });
  }

  private current(): number {
    const generation = Atomics.load(this.generation, 0);
    if (generation !== this.seen) {
      this.seen = generation;
      this.hosts.clear();
      this.tokens.clear();
    }
    return generation;
  }

  private once<T>(key: string, ask: () => Promise<T>): Promise<T> {
    let asking = this.asking.get(key) as Promise<T> | undefined;
    if (!asking) {
      asking = ask().finally(() => this.asking.delete(key));
      this.asking.set(key, asking);
    }
    return asking;
  }
}
