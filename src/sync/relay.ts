import { BACKGROUND_SHARE, SLICE_MS, timeSlices } from "../time-slices.ts";
import type { Logger } from "pino";
import type { ControlPlane } from "../storage/index.ts";
import type { ControlPlaneChanges } from "../storage/index.ts";
import type { SqlDb, TenantAccess } from "../storage/files.ts";
import type { TenantRegistry } from "../tenancy/index.ts";
import { applyStates, conflictsOf, cursorOf, type ApplyResult, type Conflict } from "./apply.ts";
import type { SyncRules } from "./entities.ts";
import { Fanout, type Applied } from "./fanout.ts";
import { compactOutbox, Outbox } from "./outbox.ts";
import { readFullCopy, readPlan } from "./plan.ts";
import { RelaySchedule } from "./relay-schedule.ts";
import type { RelayHolder, RelayLease } from "./relay-lease.ts";
import { sqliteFailure, type SqliteFailure } from "../storage/files.ts";

import { SyncStates } from "./sync-states.ts";
import { describeSync, type SyncSummary, type TenantSyncStatus } from "./sync-status.ts";
import type { TenantSync } from "./tenant-sync.ts";
import { ensureTriggers, ORGANIZATION_ENTITY } from "./triggers.ts";

export interface RelayOptions {
  /** The outbox, the synced entities and the mirror of tenants' states are read and written through `cp.sql`. */
  cp: Pick<ControlPlane, "sql">;
  /** Other processes' commits and the file's events: each wakes the relay. */
  commits: ControlPlaneChanges;
  /** Where the tenants' databases are. */
  store: TenantAccess;
  registry: Pick<TenantRegistry, "cachedTenantIds" | "cachedStatus" | "unreadableReason" | "refresh" | "fileUnreadable">;
  rules: SyncRules;
  log: Logger;
  /** Safety-net poll; commits and file events (tenantgate's own writes too) wake the relay sooner. */
  pollMs: number;
  /** Outbox rows every tenant has applied are deleted once older than this. */
  retentionMs: number;
  observer?: RelayObserver;
  /** Threads that apply a large fan-out in parallel, where the store lets threads open tenants (0: all on the main thread). */
  workers: number;
  /**
   * The lease that lets one gateway's relay run among all that share the control plane; a started
   * relay runs only while it holds it. Without one (CLI commands), runs are the caller's.
   */
  lease?: RelayLease;
}


/** Why a tenant's sync failed: what SQLite said of its database (the metric's `reason` label). */
export type FailureReason = SqliteFailure;

/** Hooks for metrics. */
export interface RelayObserver {
  applied(tenant: string, lag: number, seconds: number): void;
  failed(tenant: string, reason: FailureReason): void;
}

/**
 * The one worker that copies control-plane changes into every tenant's database. Each run reads one
 * control-plane snapshot (head, events, the current state of what they touched) and applies it to
 * every lagging tenant in its own transaction with its cursor. A tenant that fails backs off on its
 * own and never holds up the others.
 */
export class OutboxRelay {
  private readonly outbox: Outbox;
  private readonly states: SyncStates;
  private readonly schedule: RelaySchedule;
  private readonly fanout: Fanout;
  private lastCompaction = 0;
  private started = false;
  /** Set while another gateway ran the relay: the mirror is read again when this one takes over. */
  private tookOver = false;

  constructor(private readonly o: RelayOptions) {
    this.outbox = new Outbox(o.cp.sql);
    this.states = new SyncStates(o.cp.sql);
    this.schedule = new RelaySchedule({ commits: o.commits, pollMs: o.pollMs, run: () => this.runOnce(), log: o.log });
    this.fanout = new Fanout({ store: o.store, rules: o.rules, workers: o.workers, log: o.log });
  }

  /**
   * Installs the capture triggers and loads the mirrored tenant states. Triggers that were missing
   * mean changes went uncaptured, so every tenant is reconciled in full.
   */
  async prepare(): Promise<void> {
    const missing = await ensureTriggers(this.o.cp.sql, this.o.rules.controlPlane);
    await this.states.load();
    if (missing.length > 0 && this.childTenants().length > 0) this.reconcileEveryone(`capture triggers were missing (${missing.join(", ")})`);
  }

  /** Runs on its schedule from now on (a serving process), while it holds the lease. */
  async start(): Promise<void> {
    this.started = true;
    this.schedule.start();
    await this.o.lease?.start();
  }

  async stop(): Promise<void> {
    await this.schedule.stop();
    await this.o.lease?.stop();
    this.fanout.stop();
  }

  /** Whether another gateway's relay runs, not this one's. */
  private following(): boolean {
    return this.started && this.o.lease !== undefined && !this.o.lease.held;
  }

  /** Who runs the relay now, when gateways share it by a lease. */
  holder(): Promise<RelayHolder | undefined> {
    return this.o.lease?.current() ?? Promise.resolve(undefined);
  }

  /** Asks for a run; runs coalesce, so a burst of wakes costs one pass. */
  wake(): void {
    this.schedule.wake();
  }

  /** Runs until no tenant is behind (or every one behind is backing off). For tests and the CLI. */
  drain(): Promise<void> {
    return this.schedule.drain();
  }

  /**
   * Seeds a new tenant's database (or a restored one, before it is put in place) from one snapshot at
   * head H and sets its cursor to H: changes made meanwhile are past H, and the relay carries on from there.
   */
  seed = async (db: SqlDb, tenantId: string): Promise<number> => {
    const snap = await readFullCopy(this.o.cp.sql, this.o.rules);
    await applyStates(db, tenantId, snap.all, snap.head, this.o.rules, true);
    this.states.seeded(tenantId, snap.head);
    // Mirrored at once, so a gateway started later knows this cursor without opening the database.
    await this.states.persist();
    return snap.head;
  };

  /** Compares every synced entity of one tenant with the control plane and repairs what differs. */
  async reconcile(tenantId: string): Promise<ApplyResult & { cursor: number }> {
    const snap = await readFullCopy(this.o.cp.sql, this.o.rules);
    const state = this.states.of(tenantId);
    try {
      const identity = this.o.store.identity(tenantId);
      // The store's handles wait only briefly for a lock (--sync-lock-wait-ms): a tenant another
      // process holds fails here and backs off, as in a run.
      const result = await this.o.store.use(tenantId, (db) => applyStates(db, tenantId, snap.all, snap.head, this.o.rules, true));
      state.applied(snap.head, result.conflicts, identity);
      return { ...result, cursor: snap.head };
    } catch (err) {
      this.failedWith(tenantId, state, err as Error);
      throw err;
    } finally {
      await this.states.persist();
    }
  }

  /**
   * The tenant's file was replaced (a restore, a copy put in place): what the relay remembers about
   * its cursor no longer holds. Forget it, so the next run reads the file's own cursor and catches up.
   */
  async fileReplaced(tenantId: string): Promise<void> {
    // Forgotten in memory at once, before the run this wakes reads the state.
    const forgetting = this.states.forget(tenantId);
    this.wake();
    // The mirror is a hint checked against the file before it counts: a row left behind costs a read.
    await forgetting.catch((err: unknown) => this.o.log.warn({ tenant: tenantId, err }, "could not drop a replaced tenant's state from the control plane's mirror"));
  }

  /**
   * For the periodic rescan: a tenant whose file changed since its cursor was last read or written
   * (another process rewrote, rolled back, truncated or replaced it, or its WAL went; the relay's own
   * commits count too) has its cursor read from the file again, and is caught up if it is behind. So
   * does every tenant whose store cannot tell (its identity is undefined).
   */
  async recheckFiles(): Promise<void> {
    let changed = false;
    // A stat or two per file: over thousands, requests get through between slices.
    const slice = timeSlices(SLICE_MS, BACKGROUND_SHARE);
    for (const [id, s] of [...this.states.entries()]) {
      await slice();
      if (!s.verified || (s.identity !== undefined && s.identity === this.o.store.identity(id))) continue;
      s.verified = false;
      changed = true;
    }
    if (changed) this.wake();
  }

  /**
   * Reads every ready tenant's cursor from its file, for a process whose relay does not run (the
   * CLI): its summary then reports the files, not the mirror another process last wrote.
   */
  async verifyAll(): Promise<void> {
    for (const id of this.childTenants()) {
      if (this.o.registry.cachedStatus(id) !== "ready") continue;
      try {
        Object.assign(this.states.of(id), { cursor: await this.o.store.use(id, cursorOf), verified: true });
      } catch {
        // Reported as the relay last knew it, unverified.
      }
    }
  }

  reconcileEveryone(why: string): void {
    this.o.log.warn({ why }, "reconciling every tenant in full");
    for (const id of this.childTenants()) this.states.of(id).needsReconcile = true;
    this.wake();
  }

  /** The newest seq the outbox handed out. */
  head(): Promise<number> {
    return this.outbox.head();
  }

  /** One tenant's status, its cursor and conflicts read from its database when it can be read. */
  async status(tenantId: string): Promise<TenantSyncStatus & { conflict_list: Conflict[] }> {
    const s = this.states.of(tenantId);
    let cursor = s.cursor;
    let fromFile = false;
    let conflictList: Conflict[] = [];
    try {
      // The file as other processes read it now, not a handle on one that was replaced.
      this.o.store.evictIfReplaced(tenantId);
      [cursor, conflictList] = await this.o.store.use(tenantId, async (db) => [await cursorOf(db), await conflictsOf(db)] as const);
      fromFile = true;
    } catch {
      // Unreadable right now: report what the relay last knew.
    }
    // Read after the cursor: the outbox only grows, so a cursor committed meanwhile is never past it.
    const head = await this.outbox.head();
    if (fromFile && s.cursor !== undefined && cursor !== undefined && cursor < s.cursor) {
      // The file is behind what the relay committed: repair it now, not at the next change.
      s.verified = false;
      this.wake();
    }
    if (fromFile && (await this.aheadOfHead(tenantId, s, cursor, head))) this.wake();
    const target = await this.outbox.syncHead();
    return { ...describeSync(tenantId, s, this.o.registry, { head, target }, cursor, fromFile || s.verified), conflict_list: conflictList };
  }

  /** Every tenant's sync as the relay knows it (the mirror's cursors unverified until read). */
  async summary(): Promise<SyncSummary> {
    // Another gateway runs the relay: what it last wrote to the mirror is the news, not what this
    // one knew when it last ran it.
    if (this.following()) await this.states.load({ asWritten: true });
    const head = await this.outbox.head();
    const target = await this.outbox.syncHead();
    const counts = { in_sync: 0, lagging: 0, failing: 0, unavailable: 0 };
    let minCursor = head;
    const ids = this.childTenants();
    // Describing a tenant may judge its file (at a first start, every one): other requests get through.
    const slice = timeSlices();
    for (const id of ids) {
      await slice();
      const s = this.states.of(id);
      counts[describeSync(id, s, this.o.registry, { head, target }, s.cursor, s.verified).state]++;
      if (s.cursor !== undefined && s.cursor < target) minCursor = Math.min(minCursor, s.cursor);
    }
    const oldest = await this.outbox.capturedAfter(minCursor);
    const seconds = oldest ? Math.max(0, (Date.now() - Date.parse(oldest)) / 1000) : 0;
    return { head, tenants: ids.length, ...counts, oldest_lag_events: head - minCursor, oldest_lag_seconds: Math.round(seconds * 10) / 10 };
  }

  private async runOnce(): Promise<void> {
    // Another gateway holds the lease: its relay does the work (this one is woken if it takes over).
    if (this.following()) {
      this.tookOver = true;
      return;
    }
    // Just taken over: what the previous holder wrote is where this one starts, checked anew.
    if (this.tookOver) {
      this.tookOver = false;
      await this.states.load();
    }
    const missing = await ensureTriggers(this.o.cp.sql, this.o.rules.controlPlane);
    if (missing.length > 0) this.reconcileEveryone(`capture triggers were missing (${missing.join(", ")})`);
    const target = await this.outbox.syncHead();
    const head = await this.outbox.head();
    const now = Date.now();
    const due: string[] = [];
    // Judging a file and reading its cursor open it: over thousands of tenants (a first start) that
    // is seconds of synchronous work, so the pass lets the server answer between slices of it.
    const slice = timeSlices(SLICE_MS, BACKGROUND_SHARE);
    for (const id of this.childTenants()) {
      await slice();
      if (this.o.registry.cachedStatus(id) !== "ready") continue;
      const s = this.states.of(id);
      if (s.backingOff(now)) continue;
      if (!s.verified) s.confirm(this.o.store.identity(id));
      const cursor = s.cursor ?? (await this.readCursor(id, s));
      if (cursor === undefined) continue;
      await this.aheadOfHead(id, s, cursor, head);
      if (s.needsReconcile || !s.verified || cursor < target) due.push(id);
    }
    if (due.length > 0) await this.fanOut(due);
    await this.states.persist();
    await this.compact(now);
    this.schedule.retryAt(this.states.nextAttempt());
  }

  /** A cursor nothing is known of, read from the file; undefined when that failed (and the tenant backs off). */
  private async readCursor(id: string, s: TenantSync): Promise<number | undefined> {
    try {
      const identity = this.o.store.identity(id);
      s.read(await this.o.store.use(id, cursorOf), identity);
      return s.cursor;
    } catch (err) {
      this.failedWith(id, s, err as Error);
      return undefined;
    }
  }

  private async fanOut(due: string[]): Promise<void> {
    const oldest = await this.outbox.oldest();
    // A cursor older than the oldest kept event missed compacted changes: only a full copy is right.
    for (const id of due) {
      const s = this.states.of(id);
      if (oldest !== null && (s.cursor ?? 0) < oldest - 1) s.needsReconcile = true;
    }
    const replaying = due.filter((id) => !this.states.of(id).needsReconcile);
    const from = replaying.reduce((min, id) => Math.min(min, this.states.of(id).cursor ?? 0), Number.MAX_SAFE_INTEGER);
    const plan = await readPlan(this.o.cp.sql, from, replaying.length < due.length, this.o.rules);
    if (plan.events.some((e) => e.entity === ORGANIZATION_ENTITY)) this.o.registry.refresh("reload");

    await this.fanout.apply(plan, due, {
      job: (id) => ({ tenantId: id, remembered: this.states.of(id).cursor, needsReconcile: this.states.of(id).needsReconcile }),
      record: (result) => ("error" in result ? this.failedWith(result.tenantId, this.states.of(result.tenantId), result.error) : this.record(result, plan.head)),
      stopped: () => this.schedule.stopped,
    });
  }

  private async record({ tenantId: id, outcome, identity, started }: Applied, head: number): Promise<void> {
    const s = this.states.of(id);
    if (outcome.kind === "current") {
      // Checked, and nothing to apply: the file holds every change (unless its cursor is past the head).
      s.checked(outcome.cursor, identity);
      if (await this.aheadOfHead(id, s, outcome.cursor, head)) this.wake();
      return;
    }
    if (outcome.kind === "behind") {
      // The file's cursor is the truth; what the relay remembered was ahead of it (a backup put back).
      // The events it misses may be older than this snapshot's: look again in the next pass.
      this.o.log.warn({ tenant: id, remembered: s.cursor, cursor: outcome.cursor }, "tenant file is behind the cursor the relay remembered; catching it up from its own");
      s.behind(outcome.cursor, identity);
      this.wake();
      return;
    }
    s.applied(head, outcome.result.conflicts, identity);
    // A file reconciled from a cursor past the head (another outbox's) was no number of events behind.
    this.o.observer?.applied(id, Math.max(0, head - outcome.from), (performance.now() - started) / 1000);
  }

  /**
   * A cursor past the control plane's head counts another outbox's events (a file from another
   * deployment, or a control plane put back from an older backup): which copies the file holds is
   * unknown, so it is reconciled in full. The head is read again before saying so: the outbox only
   * grows, so a cursor another process committed after `head` was read is never taken for one.
   */
  private async aheadOfHead(tenantId: string, s: TenantSync, cursor: number | undefined, head: number): Promise<boolean> {
    if (cursor === undefined || cursor <= head || cursor <= (await this.outbox.head())) return false;
    if (!s.needsReconcile) this.o.log.warn({ tenant: tenantId, cursor, head }, "tenant file's cursor is past the control plane's head; reconciling it in full");
    s.needsReconcile = true;
    return true;
  }

  private failedWith(tenantId: string, s: TenantSync, err: Error): void {
    const reason = sqliteFailure(err);
    s.failed(err.message);
    // A handle that hit corruption or a vanished file is not to be reused.
    if (reason !== "busy") this.o.store.evict(tenantId);
    // A file SQLite finds corrupt is unreadable for everyone (503) until it changes.
    if (reason === "corrupt") this.o.registry.fileUnreadable(tenantId, err.message);
    this.o.observer?.failed(tenantId, reason);
    this.o.log.warn({ tenant: tenantId, reason, attempts: s.attempts, err: err.message }, "tenant sync failed; backing off");
  }

  /** Deletes outbox rows that every tenant has applied and that are older than the retention. */
  private async compact(now: number): Promise<void> {
    if (now - this.lastCompaction < Math.min(60_000, this.o.retentionMs)) return;
    this.lastCompaction = now;
    await this.states.prune(new Set(this.childTenants()));
    const cursors = this.childTenants().map((id) => this.states.of(id).cursor);
    if (cursors.some((c) => c === undefined)) return;
    const floor = Math.min(await this.outbox.head(), ...(cursors as number[]));
    const removed = await compactOutbox(this.o.cp.sql, floor, new Date(now - this.o.retentionMs).toISOString());
    if (removed > 0) this.o.log.info({ removed, floor }, "compacted the outbox");
  }

  private childTenants(): string[] {
    return this.o.registry.cachedTenantIds().filter((id) => id !== this.o.rules.controlPlane);
  }
}
