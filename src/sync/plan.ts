import type { SqlDb } from "../storage/files.ts";
import { applyStates, cursorOf, type ApplyResult } from "./apply.ts";
import { applyStatesInOneBatch } from "./apply-batch.ts";
import { readAllStates, readStates, type EntityState, type SyncRules } from "./entities.ts";
import { Outbox, type OutboxEvent } from "./outbox.ts";
import { isEntityKind, type EntityKind } from "../synced-entities.ts";
import { RECONCILE_ENTITY } from "./triggers.ts";

/** One control-plane snapshot, as every tenant of a run applies it (plain data: it crosses to workers). */
export interface Plan {
  head: number;
  events: OutboxEvent[];
  /** Current state of every entity the events touch, keyed `kind:id`. */
  states: [string, EntityState][];
  /** Every syncable entity, when some tenant needs a full copy. */
  all?: EntityState[];
}

/**
 * One snapshot of the control plane: the head, the events since `from`, the states they touch, and
 * every syncable entity when `needAll` (or when a reconcile marker is among the events).
 */
export function readPlan(cp: SqlDb, from: number, needAll: boolean, rules: SyncRules): Promise<Plan> {
  return cp.snapshot(async (r): Promise<Plan> => {
    const outbox = new Outbox(r);
    const head = await outbox.head();
    const events = await outbox.events(from, head);
    const touched = new Map<string, { kind: EntityKind; id: string }>();
    for (const e of events) if (isEntityKind(e.entity)) touched.set(`${e.entity}:${e.entity_id}`, { kind: e.entity, id: e.entity_id });
    const states = (await readStates(r, touched.values(), rules)).map((s): [string, EntityState] => [`${s.kind}:${s.id}`, s]);
    const marked = events.some((e) => e.entity === RECONCILE_ENTITY);
    return { head, events, states, all: needAll || marked ? await readAllStates(r, rules) : undefined };
  });
}

/** Every syncable entity and the head they stand at, in one snapshot: a full copy's. */
export function readFullCopy(cp: SqlDb, rules: SyncRules): Promise<{ head: number; all: EntityState[] }> {
  return cp.snapshot(async (r) => ({ head: await new Outbox(r).head(), all: await readAllStates(r, rules) }));
}

export interface Job {
  tenantId: string;
  /** The cursor the relay remembers; the file's own cursor is the truth. */
  remembered: number | undefined;
  needsReconcile: boolean;
}

export type Outcome =
  | { kind: "applied"; from: number; result: ApplyResult }
  /** The file is behind what the relay remembered (a restored backup): re-plan from its own cursor. */
  | { kind: "behind"; cursor: number }
  /** The file already holds the plan's head: checked, nothing written. */
  | { kind: "current"; cursor: number };

/** Applies a plan to one tenant's database. Pure over its arguments, so the main thread and workers share it. */
export class PlanApplier {
  private readonly byCursor = new Map<number, EntityState[]>();
  private readonly states: Map<string, EntityState>;

  constructor(
    private readonly plan: Plan,
    private readonly rules: SyncRules,
  ) {
    this.states = new Map(plan.states);
  }

  async apply(db: SqlDb, job: Job): Promise<Outcome> {
    // Across a network, each statement is a round trip: where the relay knows the cursor, the whole
    // apply goes as one batch that checks the cursor first (apply-batch.ts); if it moved, the batch
    // wrote nothing and the apply below reads it.
    const from = job.remembered;
    if (db.engine === "libsql" && !job.needsReconcile && from !== undefined && from < this.plan.head && !this.reconcileAfter(from)) {
      const result = await applyStatesInOneBatch(db, job.tenantId, this.touchedSince(from), from, this.plan.head, this.rules);
      if (result) return { kind: "applied", from, result };
    }
    const cursor = await cursorOf(db);
    if (!job.needsReconcile && cursor < (job.remembered ?? 0)) return { kind: "behind", cursor };
    const full = job.needsReconcile || this.reconcileAfter(cursor);
    if (!full && cursor >= this.plan.head) return { kind: "current", cursor };
    const states = full ? (this.plan.all ?? []) : this.touchedSince(cursor);
    return { kind: "applied", from: cursor, result: await applyStates(db, job.tenantId, states, this.plan.head, this.rules, full) };
  }

  /** A reconcile marker past the cursor: writes went uncaptured meanwhile, only a full copy is right. */
  private reconcileAfter(cursor: number): boolean {
    return this.plan.events.some((e) => e.entity === RECONCILE_ENTITY && e.seq > cursor);
  }

  private touchedSince(cursor: number): EntityState[] {
    let list = this.byCursor.get(cursor);
    if (!list) {
      const keys = new Set<string>();
      for (const e of this.plan.events) if (e.seq > cursor && isEntityKind(e.entity)) keys.add(`${e.entity}:${e.entity_id}`);
      list = [...keys].map((k) => this.states.get(k)).filter((s): s is EntityState => s !== undefined);
      this.byCursor.set(cursor, list);
    }
    return list;
  }
}
