/** Whether a listed tenant's database is there and can be read. */
export type Presence = "ready" | "missing" | "unreadable";

/**
 * What the registry knows of tenants' databases beyond the control plane's rows: which are there and
 * readable. Each store has its own way to tell (files on disk, a libSQL server's namespaces). The
 * methods that record news say whether any answer changed, so the registry moves its generation
 * only then.
 */
export interface TenantPresence {
  of(id: string): Presence;
  unreadableReason(id: string): string | undefined;
  /** A database appeared or changed (a file event, a build put in place). */
  added(id: string): boolean;
  removed(id: string): boolean;
  /** SQLite said it is not a database or is corrupt while it was used. */
  unreadable(id: string, reason: string): boolean;
  /** Looks at everything again: the truth that corrects any event missed. May let requests through while it does. */
  rescan(): Promise<void>;
  /** Databases there, listed or not (for orphans); those a store cannot list are not in it. */
  present(): Iterable<string>;
  /** Keeps what it has judged for the next process, where it keeps anything (at a clean stop). */
  persist?(): void;
}

/**
 * Namespaces of a libSQL server: a listed tenant's namespace is taken to be there (a request for one
 * that is not answers 503 by the failure it meets), unless a use found it unreadable; a rescan
 * forgets that, so a repaired namespace serves again.
 */
export class NamespacePresence implements TenantPresence {
  private readonly broken = new Map<string, string>();

  of(id: string): Presence {
    return this.broken.has(id) ? "unreadable" : "ready";
  }

  unreadableReason(id: string): string | undefined {
    return this.broken.get(id);
  }

  added(id: string): boolean {
    return this.broken.delete(id);
  }

  removed(id: string): boolean {
    return this.broken.delete(id);
  }

  unreadable(id: string, reason: string): boolean {
    const was = this.broken.has(id);
    this.broken.set(id, reason);
    return !was;
  }

  async rescan(): Promise<void> {
    this.broken.clear();
  }

  present(): Iterable<string> {
    return [];
  }
}
