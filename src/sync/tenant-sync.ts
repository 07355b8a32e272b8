import type { TenantIdentity } from "../storage/files.ts";

const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 60_000;

/** What the relay knows of one tenant's sync, and how each attempt's outcome changes it. */
export class TenantSync {
  cursor?: number;
  /**
   * The cursor was read from the file as it is now, or committed to it by this relay since the file
   * last changed under it. A cursor only remembered (the mirror at start, a file that changed at a
   * rescan) is checked against the file before the tenant is reported in sync.
   */
  verified = false;
  /**
   * The database's identity just before the cursor was last read or written: one that changed since
   * is checked again, and so is one whose store could not tell (undefined).
   */
  identity?: TenantIdentity;
  attempts = 0;
  lastError: string | null = null;
  lastErrorAt: string | null = null;
  nextAttemptAt: number | null = null;
  conflicts = 0;
  /** Copy every syncable entity and drop stray copies, instead of replaying events. */
  needsReconcile = false;
  /** Changed since the mirror on the control plane was last written. */
  dirty = false;

  /** As the mirror remembers it: unverified until the file is read, or found unchanged (`confirm`). */
  static remembered(row: { cursor: number; attempts: number; lastError: string | null; lastErrorAt: string | null; nextAttemptAt: number | null; conflicts: number; identity: TenantIdentity | null }): TenantSync {
    const { identity, ...rest } = row;
    return Object.assign(new TenantSync(), rest, { identity: identity ?? undefined });
  }

  /**
   * A remembered cursor counts as read when the database still has the identity it had when the
   * cursor was read or written: nothing has written to it since. Over thousands of files this is a
   * stat each instead of an open and a read each, which is what a restart costs.
   */
  confirm(identity: TenantIdentity | undefined): void {
    if (!this.verified && this.cursor !== undefined && identity !== undefined && identity === this.identity) this.verified = true;
  }

  /** A file just seeded at `cursor`, inside its creating transaction. */
  static seeded(cursor: number): TenantSync {
    return Object.assign(new TenantSync(), { cursor, verified: true, dirty: true });
  }

  /** Backing off at `now`: not to be attempted yet. */
  backingOff(now: number): boolean {
    return this.nextAttemptAt !== null && this.nextAttemptAt > now;
  }

  /** The cursor as read from the file now; a file never synced (cursor 0) gets a full copy. */
  read(cursor: number, identity: TenantIdentity | undefined): void {
    // Mirrored, so that the next start finds it without reading the file again.
    Object.assign(this, { cursor, verified: true, identity, dirty: true });
    if (cursor === 0) this.needsReconcile = true;
  }

  /** `head`'s changes were applied (or a full copy made); `identity` is the file's from before. */
  applied(head: number, conflicts: number, identity: TenantIdentity | undefined): void {
    this.checked(head, identity);
    this.conflicts = conflicts;
    this.needsReconcile = false;
  }

  /** Checked, and nothing to apply: the file holds every change up to `cursor`. */
  checked(cursor: number, identity: TenantIdentity | undefined): void {
    Object.assign(this, { cursor, verified: true, identity, attempts: 0, lastError: null, lastErrorAt: null, nextAttemptAt: null, dirty: true });
  }

  /** The file's cursor is behind what was remembered (a backup put back): it is the truth. */
  behind(cursor: number, identity: TenantIdentity | undefined): void {
    Object.assign(this, { cursor, verified: true, identity, dirty: true });
  }

  /** An attempt failed: the next one waits, twice as long each time (with jitter, so tenants spread out), up to a minute. */
  failed(message: string): void {
    this.attempts++;
    this.lastError = message;
    this.lastErrorAt = new Date().toISOString();
    const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(this.attempts - 1, 16));
    this.nextAttemptAt = Date.now() + Math.round(backoff * (0.5 + Math.random() / 2));
    this.dirty = true;
  }

  /** The file was replaced: nothing remembered about its cursor holds, nor its failures. */
  forgotten(): void {
    Object.assign(this, { cursor: undefined, verified: false, attempts: 0, lastError: null, lastErrorAt: null, nextAttemptAt: null, dirty: false });
  }
}
