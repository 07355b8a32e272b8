import type { Database } from "bun:sqlite";
import { applyStates, cursorOf, type ApplyResult } from "./apply.ts";
import type { EntityState, SyncRules } from "./entities.ts";
import { isEntityKind } from "./synced-entities.ts";
import { RECONCILE_ENTITY } from "./triggers.ts";

/** One control-plane snapshot, as every tenant of a run applies it (plain data: it crosses to workers). */
export interface Plan {
  head: number;
  events: { seq: number; entity: string; entity_id: string }[];
  /** Current state of every entity the events touch, keyed `kind:id`. */
  states: [string, EntityState][];
  /** Every syncable entity, when some tenant needs a full copy. */
  all?: EntityState[];
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
