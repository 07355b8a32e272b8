import type { Database } from "bun:sqlite";
import type { Logger } from "pino";
import type { ControlPlane } from "../storage/control-plane.ts";
import type { ControlPlaneCommits } from "../storage/control-plane-commits.ts";
import { identityOf, sameIdentity, type FileIdentity } from "../storage/file-probe.ts";
import type { HandlePool } from "../storage/pool.ts";
import type { TenantRegistry } from "../tenancy/registry.ts";
import { applyStates, conflictsOf, cursorOf, type ApplyResult, type Conflict } from "./apply.ts";
import type { EntityState, SyncRules } from "./entities.ts";
import { ensureTriggers, ORGANIZATION_ENTITY } from "./triggers.ts";
import { FanoutWorkers } from "./fanout-workers.ts";
import { Outbox } from "./outbox.ts";
import { PlanApplier, readFullCopy, readPlan, type Job, type Outcome } from "./plan.ts";
import { RelaySchedule } from "./relay-schedule.ts";
import { SyncStates } from "./sync-states.ts";
import type { TenantSync } from "./tenant-sync.ts";

export interface RelayOptions {
  cp: ControlPlane;
  /** Other processes' commits and the file's events: each wakes the relay. */
  commits: ControlPlaneCommits;
  pool: HandlePool;
  registry: TenantRegistry;
  rules: SyncRules;
  log: Logger;
  /** Safety-net poll; commits and file events (tenantgate's own writes too) wake the relay sooner. */
  pollMs: number;
  /** Outbox rows every tenant has applied are deleted once older than this. */
  retentionMs: number;
  observer?: RelayObserver;
  /** Threads that apply a large fan-out in parallel (0: all on the main thread). */
  workers: number;
  /** `<data>/tenants`, for the workers' own opens. */
  dir: string;
  /** Busy timeout of the workers' handles (the pool's, for the same reason: back off, not stall). */
  lockWaitMs: number;
}

/** Hooks for metrics. */
export interface RelayObserver {
  applied(tenant: string, lag: number, seconds: number): void;
  failed(tenant: string, reason: FailureReason): void;
}

export type FailureReason = "busy" | "missing" | "corrupt" | "schema" | "other";

export interface TenantSyncStatus {
  tenant_id: string;
  cursor: number | null;
  head: number;
  lag: number | null;
  state: "in_sync" | "lagging" | "failing" | "unavailable";
  attempts: number;
  last_error: string | null;
  last_error_at: string | null;
  next_attempt_at: string | null;
  conflicts: number;
}

const YIELD_EVERY = 32;
/** Below this many tenants to update, threads cost more than they save. */
const WORKER_THRESHOLD = 64;

/**
 * The one worker that copies control-plane changes into every tenant file. Each run reads one
 * control-plane snapshot (head, events, the current state of what they touched) and applies it to
 * every lagging tenant in its own transaction with its cursor. A tenant that fails backs off on its
 * own and never holds up the others.
 */
export class OutboxRelay {
  private readonly outbox: Outbox;
  private readonly states: SyncStates;
  private readonly schedule: RelaySchedule;
  private lastCompaction = 0;

  private readonly workers?: FanoutWorkers;

  constructor(private readonly o: RelayOptions) {
    this.outbox = new Outbox(o.cp.db);
    this.states = new SyncStates(o.cp.db);
    this.schedule = new RelaySchedule({ commits: o.commits, pollMs: o.pollMs, run: () => this.runOnce(), log: o.log });
    if (o.workers > 0) this.workers = new FanoutWorkers(o.workers, o.dir, o.lockWaitMs, o.rules, o.log);
  }

  /**
   * Installs the capture triggers and loads the mirrored tenant states. Triggers that were missing
   * mean changes went uncaptured, so every tenant is reconciled in full.
   */
  prepare(): void {
    const missing = ensureTriggers(this.o.cp.db, this.o.rules.controlPlane);
    this.states.load();
    if (missing.length > 0 && this.o.cp.tenantIds().length > 1) this.reconcileEveryone(`capture triggers were missing (${missing.join(", ")})`);
  }

  /** Runs on its schedule from now on (a serving process). */
  start(): void {
    this.schedule.start();
  }

  async stop(): Promise<void> {
    await this.schedule.stop();
    this.workers?.stop();
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
   * Seeds a new tenant file from one snapshot at head H and sets its cursor to H, inside the file's
   * creating transaction: changes made meanwhile are past H, and the relay carries on from there.
   */
  seed = (db: Database, tenantId: string): void => {
    const snap = readFullCopy(this.o.cp.db, this.outbox, this.o.rules);
    applyStates(db, tenantId, snap.all, snap.head, this.o.rules, true);
    this.states.seeded(tenantId, snap.head);
    // Mirrored at once, so a gateway started later knows this cursor without opening the file.
    this.states.persist();
  };

  /** Compares every synced entity of one tenant with the control plane and repairs what differs. */
  reconcile(tenantId: string): ApplyResult & { cursor: number } {
    const snap = readFullCopy(this.o.cp.db, this.outbox, this.o.rules);
    const state = this.states.of(tenantId);
    try {
      const identity = this.identityOf(tenantId);
      const result = this.applyTo(tenantId, snap.all, snap.head, true);
      state.applied(snap.head, result.conflicts, identity);
      return { ...result, cursor: snap.head };
    } catch (err) {
      this.failedWith(tenantId, state, err as Error);
      throw err;
    } finally {
      this.states.persist();
    }
  }

  /**
   * The tenant's file was replaced (a restore, a copy put in place): what the relay remembers about
   * its cursor no longer holds. Forget it, so the next run reads the file's own cursor and catches up.
   */
  fileReplaced(tenantId: string): void {
    this.states.forget(tenantId);
    this.wake();
  }

  /**
   * For the periodic rescan: a tenant whose file changed since its cursor was last read or written
   * (another process rewrote, rolled back, truncated or replaced it, or its WAL went; the relay's own
   * commits count too) has its cursor read from the file again, and is caught up if it is behind.
   */
  recheckFiles(): void {
    let changed = false;
    for (const [id, s] of this.states.entries()) {
      if (!s.verified || sameIdentity(s.identity, this.identityOf(id))) continue;
      s.verified = false;
      changed = true;
    }
    if (changed) this.wake();
  }

  private identityOf(tenantId: string): FileIdentity | undefined {
    try {
      return identityOf(this.o.pool.pathOf(tenantId));
    } catch {
      return undefined;
    }
  }

  /**
   * Reads every ready tenant's cursor from its file, for a process whose relay does not run (the
   * CLI): its summary then reports the files, not the mirror another process last wrote.
   */
  verifyAll(): void {
    for (const id of this.childTenants()) {
      if (this.o.registry.status(id) !== "ready") continue;
      try {
        Object.assign(this.states.of(id), { cursor: cursorOf(this.o.pool.get(id)), verified: true });
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

  /** The newest event a tenant file must have applied (organization events are not owed). */
  syncHead(): number {
    return this.outbox.syncHead();
  }

  head(): number {
    return this.outbox.head();
  }

  status(tenantId: string): TenantSyncStatus & { conflict_list: Conflict[] } {
    const head = this.outbox.head();
    const s = this.states.of(tenantId);
    let cursor = s.cursor;
    let fromFile = false;
    let conflictList: Conflict[] = [];
    try {
      // The file as other processes read it now, not a handle on one that was replaced.
      this.o.pool.evictIfReplaced(tenantId);
      const db = this.o.pool.get(tenantId);
      cursor = cursorOf(db);
      conflictList = conflictsOf(db);
      fromFile = true;
    } catch {
      // Unreadable right now: report what the relay last knew.
    }
    if (fromFile && s.cursor !== undefined && cursor !== undefined && cursor < s.cursor) {
      // The file is behind what the relay committed: repair it now, not at the next change.
      s.verified = false;
      this.wake();
    }
    return { ...this.describe(tenantId, s, head, this.syncHead(), cursor, fromFile || s.verified), conflict_list: conflictList };
  }

  summary(): { head: number; tenants: number; in_sync: number; lagging: number; failing: number; unavailable: number; oldest_lag_events: number; oldest_lag_seconds: number } {
    const head = this.outbox.head();
    const target = this.syncHead();
    const counts = { in_sync: 0, lagging: 0, failing: 0, unavailable: 0 };
    let minCursor = head;
    const ids = this.childTenants();
    for (const id of ids) {
      const s = this.states.of(id);
      counts[this.describe(id, s, head, target, s.cursor, s.verified).state]++;
      if (s.cursor !== undefined && s.cursor < target) minCursor = Math.min(minCursor, s.cursor);
    }
    const oldest = this.outbox.capturedAfter(minCursor);
    const seconds = oldest ? Math.max(0, (Date.now() - Date.parse(oldest)) / 1000) : 0;
    return { head, tenants: ids.length, ...counts, oldest_lag_events: head - minCursor, oldest_lag_seconds: Math.round(seconds * 10) / 10 };
  }

  /** `verified`: `cursor` is the file's own; a cursor only remembered never counts as in sync. */
  private describe(tenantId: string, s: TenantSync, head: number, target: number, cursor: number | undefined, verified: boolean): TenantSyncStatus {
    const status = this.o.registry.status(tenantId);
    const caughtUp = verified && cursor !== undefined && cursor >= target && !s.needsReconcile;
    const state = status !== "ready" ? "unavailable" : s.lastError ? "failing" : caughtUp ? "in_sync" : "lagging";
    return {
      tenant_id: tenantId,
      cursor: cursor ?? null,
      head,
      // Events to apply; organization events after the last synced change are not owed.
      lag: cursor === undefined ? null : caughtUp ? 0 : Math.max(0, head - cursor),
      state,
      attempts: s.attempts,
      last_error: s.lastError ?? (status !== "ready" ? `tenant file is ${status}${status === "unreadable" ? `: ${this.o.registry.unreadableReason(tenantId) ?? "not a database"}` : ""}` : null),
      last_error_at: s.lastErrorAt,
      next_attempt_at: s.nextAttemptAt ? new Date(s.nextAttemptAt).toISOString() : null,
      conflicts: s.conflicts,
    };
  }

  private async runOnce(): Promise<void> {
    const missing = ensureTriggers(this.o.cp.db, this.o.rules.controlPlane);
    if (missing.length > 0) this.reconcileEveryone(`capture triggers were missing (${missing.join(", ")})`);
    const target = this.syncHead();
    const now = Date.now();
    const due: string[] = [];
    for (const id of this.childTenants()) {
      if (this.o.registry.status(id) !== "ready") continue;
      const s = this.states.of(id);
      if (s.backingOff(now)) continue;
      if (s.cursor === undefined) {
        try {
          s.identity = this.identityOf(id);
          s.cursor = cursorOf(this.o.pool.get(id));
          s.verified = true;
          if (s.cursor === 0) s.needsReconcile = true;
        } catch (err) {
          this.failedWith(id, s, err as Error);
          continue;
        }
      }
      if (s.needsReconcile || !s.verified || s.cursor < target) due.push(id);
    }
    if (due.length > 0) await this.fanOut(due);
    this.states.persist();
    this.compact(now);
    this.schedule.retryAt(this.states.nextAttempt());
  }

  private async fanOut(due: string[]): Promise<void> {
    const oldest = this.outbox.oldest();
    // A cursor older than the oldest kept event missed compacted changes: only a full copy is right.
    for (const id of due) {
      const s = this.states.of(id);
      if (oldest !== null && (s.cursor ?? 0) < oldest - 1) s.needsReconcile = true;
    }
    const replaying = due.filter((id) => !this.states.of(id).needsReconcile);
    const from = replaying.reduce((min, id) => Math.min(min, this.states.of(id).cursor ?? 0), Number.MAX_SAFE_INTEGER);
    const plan = readPlan(this.o.cp.db, this.outbox, from, replaying.length < due.length, this.o.rules);
    if (plan.events.some((e) => e.entity === ORGANIZATION_ENTITY)) this.o.registry.refresh("reload");

    const applier = new PlanApplier(plan, this.o.rules);
    const job = (id: string): Job => ({ tenantId: id, remembered: this.states.of(id).cursor, needsReconcile: this.states.of(id).needsReconcile });
    // Files the pool holds open are cheapest here; the rest go to the workers, whose opens, writes and
    // closes overlap (the work is bound by I/O latency), while this thread keeps serving requests.
    const open = new Set(this.o.pool.openIds());
    const toWorkers = this.workers?.available && due.length >= WORKER_THRESHOLD ? due.filter((id) => !open.has(id)) : [];
    const here = toWorkers.length > 0 ? due.filter((id) => open.has(id)) : due;
    const away = toWorkers.length > 0 ? (this.workers as FanoutWorkers).apply(plan, toWorkers.map(job)) : Promise.resolve([]);

    let done = 0;
    for (const id of here) {
      const started = performance.now();
      try {
        const identity = this.identityOf(id);
        this.record(id, applier.apply(this.o.pool.get(id), job(id)), plan.head, started, identity);
      } catch (err) {
        this.failedWith(id, this.states.of(id), err as Error);
      }
      // Let requests through between tenants: the relay shares the event loop with the server.
      if (++done % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
      if (this.schedule.stopped) break;
    }
    const started = performance.now();
    for (const r of await away) {
      if (r.outcome) this.record(r.tenantId, r.outcome, plan.head, started, r.identity);
      else this.failedWith(r.tenantId, this.states.of(r.tenantId), Object.assign(new Error(r.error?.message ?? "failed"), { code: r.error?.code }));
    }
  }

  /** `identity`: the file's, taken before the outcome's cursor was read. */
  private record(id: string, outcome: Outcome, head: number, started: number, identity: FileIdentity | undefined): void {
    const s = this.states.of(id);
    if (outcome.kind === "current") {
      // Checked, and nothing to apply: the file holds every change.
      s.checked(outcome.cursor, identity);
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
    this.o.observer?.applied(id, head - outcome.from, (performance.now() - started) / 1000);
  }

  private applyTo(tenantId: string, states: readonly EntityState[], head: number, complete: boolean): ApplyResult {
    // The pool's handles wait only briefly for a lock (--sync-lock-wait-ms): a tenant whose file
    // another process holds must not stall the fan-out; it backs off instead.
    return applyStates(this.o.pool.get(tenantId), tenantId, states, head, this.o.rules, complete);
  }

  private failedWith(tenantId: string, s: TenantSync, err: Error): void {
    const reason = classify(err);
    s.failed(err.message);
    // A handle that hit corruption or a vanished file is not to be reused.
    if (reason !== "busy") this.o.pool.evict(tenantId);
    // A file SQLite finds corrupt is unreadable for everyone (503) until it changes.
    if (reason === "corrupt") this.o.registry.fileUnreadable(tenantId, err.message);
    this.o.observer?.failed(tenantId, reason);
    this.o.log.warn({ tenant: tenantId, reason, attempts: s.attempts, err: err.message }, "tenant sync failed; backing off");
  }

  /** Deletes outbox rows that every tenant has applied and that are older than the retention. */
  private compact(now: number): void {
    if (now - this.lastCompaction < Math.min(60_000, this.o.retentionMs)) return;
    this.lastCompaction = now;
    this.states.prune(new Set(this.childTenants()));
    const cursors = this.childTenants().map((id) => this.states.of(id).cursor);
    if (cursors.some((c) => c === undefined)) return;
    const floor = Math.min(this.outbox.head(), ...(cursors as number[]));
    const removed = this.outbox.compact(floor, new Date(now - this.o.retentionMs).toISOString());
    if (removed > 0) this.o.log.info({ removed, floor }, "compacted the outbox");
  }

  private childTenants(): string[] {
    return this.o.registry.tenantIds().filter((id) => id !== this.o.rules.controlPlane);
  }

}

function classify(err: Error): FailureReason {
  const text = `${(err as { code?: string }).code ?? ""} ${err.message}`;
  if (/BUSY|LOCKED|database is locked/i.test(text)) return "busy";
  if (/missing|CANTOPEN|unable to open|no such file/i.test(text)) return "missing";
  if (/CORRUPT|NOTADB|not a database|malformed/i.test(text)) return "corrupt";
  if (/no such (table|column)|has no column/i.test(text)) return "schema";
  return "other";
}

