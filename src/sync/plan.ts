import type { Database } from "bun:sqlite";
import { applyStates, cursorOf, type ApplyResult } from "./apply.ts";
import { readAllStates, readStates, type EntityState, type SyncRules } from "./entities.ts";
import type { Outbox, OutboxEvent } from "./outbox.ts";
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
 * One read transaction on the control plane: the head, the events since `from`, the states they
 * touch, and every syncable entity when `needAll` (or when a reconcile marker is among the events).
 */
export function readPlan(cp: Database, outbox: Outbox, from: number, needAll: boolean, rules: SyncRules): Plan {
  return cp.transaction((): Plan => {
    const head = outbox.head();
    const events = outbox.events(from, head);
    const touched = new Map<string, { kind: EntityKind; id: string }>();
    for (const e of events) if (isEntityKind(e.entity)) touched.set(`${e.entity}:${e.entity_id}`, { kind: e.entity, id: e.entity_id });
    const states = readStates(cp, touched.values(), rules).map((s): [string, EntityState] => [`${s.kind}:${s.id}`, s]);
    const marked = events.some((e) => e.entity === RECONCILE_ENTITY);
    return { head, events, states, all: needAll || marked ? readAllStates(cp, rules) : undefined };
  })();
}

/** Every syncable entity and the head they stand at, in one read transaction: a full copy's snapshot. */
export function readFullCopy(cp: Database, outbox: Outbox, rules: SyncRules): { head: number; all: EntityState[] } {
  return cp.transaction(() => ({ head: outbox.head(), all: readAllStates(cp, rules) }))();
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

/** Applies a plan to one tenant file. Pure over its arguments, so the main thread and workers share it. */
export class PlanApplier {
  private readonly byCursor = new Map<number, EntityState[]>();
  private readonly states: Map<string, EntityState>;

  constructor(
    private readonly plan: Plan,
    private readonly rules: SyncRules,
  ) {
    this.states = new Map(plan.states);
  }

  apply(db: Database, job: Job): Outcome {
    const cursor = cursorOf(db);
    if (!job.needsReconcile && cursor < (job.remembered ?? 0)) return { kind: "behind", cursor };
    // A reconcile marker past the cursor: writes went uncaptured meanwhile, only a full copy is right.
    const full = job.needsReconcile || this.plan.events.some((e) => e.entity === RECONCILE_ENTITY && e.seq > cursor);
    if (!full && cursor >= this.plan.head) return { kind: "current", cursor };
    const states = full ? (this.plan.all ?? []) : this.touchedSince(cursor);
    return { kind: "applied", from: cursor, result: applyStates(db, job.tenantId, states, this.plan.head, this.rules, full) };
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
