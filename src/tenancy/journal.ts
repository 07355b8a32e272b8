import { and, asc, desc, eq, sql } from "drizzle-orm";
import { HttpError } from "../http-error.ts";
import { operations, ormOf, type OperationRow, type Orm, type SqlDb, type SqlWriter } from "../storage/index.ts";
import { newOperationId } from "./ids.ts";
import { currentOwner, isOwnerAlive, type ProcessOwner } from "./process-owner.ts";
import { hostname } from "node:os";

export type OperationKind = OperationRow["kind"];

export interface OperationStep {
  step: string;
  at: string;
  outcome: string;
}

/**
 * How long an operation's owner is taken to be alive after it last renewed its lease (it renews every
 * third of it while it works). Past it, a gateway on another host finishes or undoes the operation.
 */
export const OPERATION_LEASE_MS = 30_000;

export interface Operation extends Omit<OperationRow, "input" | "steps" | "owner"> {
  input: Record<string, unknown>;
  steps: OperationStep[];
  owner: ProcessOwner | null;
}

/** The lifecycle journal in the control-plane file (`tenantgate_operations`). */
export class OperationJournal {
  private readonly orm: Orm;
  private readonly me = JSON.stringify(currentOwner());
  /** Renewal timers of the operations this process runs. */
  private readonly renewing = new Map<string, ReturnType<typeof setInterval>>();

  constructor(
    db: SqlDb,
    private readonly leaseMs = OPERATION_LEASE_MS,
  ) {
    this.orm = ormOf(db);
  }

  /** Starts an operation; 409 when another one is already running for the tenant. */
  async begin(kind: OperationKind, tenantId: string, input: Record<string, unknown>): Promise<Operation> {
    const row = {
      id: newOperationId(),
      tenantId,
      kind,
      state: "running" as const,
      input: JSON.stringify(input),
      steps: "[]",
      startedAt: new Date().toISOString(),
      owner: this.me,
      leaseUntil: Date.now() + this.leaseMs,
    };
    try {
      await this.orm.insert(operations).values(row).run();
    } catch (err) {
      // drizzle wraps the engine's error; SQLite's own message is in its cause.
      if (/UNIQUE constraint failed/.test(`${(err as Error).message} ${((err as Error).cause as Error | undefined)?.message ?? ""}`))
        throw new HttpError(409, `another operation on tenant "${tenantId}" is still running`);
      throw err;
    }
    this.keepAlive(row.id);
    return parse({ ...row, error: null, finishedAt: null });
  }

  /**
   * Whether no one is running the operation any more: its owner is a process on this host that is
   * gone, or on another host it let its lease lapse. An owner on another host without a lease (an
   * older tenantgate) is taken as alive: taking over its work could tear a tenant in half.
   */
  isAbandoned(op: Operation, now = Date.now()): boolean {
    if (!op.owner) return true;
    if (op.owner.host === hostname()) return !isOwnerAlive(op.owner);
    return op.leaseUntil !== null && op.leaseUntil < now;
  }

  /**
   * Makes this process the owner of an abandoned operation, if no other gateway took it first (one
   * conditional write); true when it did. The lease is then renewed until the operation finishes.
   */
  async claim(op: Operation, now = Date.now()): Promise<boolean> {
    const taken = await this.orm
      .update(operations)
      .set({ owner: this.me, leaseUntil: now + this.leaseMs })
      .where(and(eq(operations.id, op.id), eq(operations.state, "running"), op.owner ? eq(operations.owner, JSON.stringify(op.owner)) : sql`${operations.owner} IS NULL`))
      .returning({ id: operations.id })
      .get();
    if (!taken) return false;
    this.keepAlive(op.id);
    return true;
  }

  /** Gives up an operation this process claimed but could not finish or undo: any gateway may try again. */
  async letGo(opId: string): Promise<void> {
    clearInterval(this.renewing.get(opId));
    this.renewing.delete(opId);
    await this.orm
      .update(operations)
      .set({ owner: null, leaseUntil: null })
      .where(and(eq(operations.id, opId), eq(operations.owner, this.me), eq(operations.state, "running")))
      .run();
  }

  /** Renews the operation's lease every third of its length until it finishes. */
  private keepAlive(opId: string): void {
    const timer = setInterval(() => {
      void this.orm
        .update(operations)
        .set({ leaseUntil: Date.now() + this.leaseMs })
        .where(and(eq(operations.id, opId), eq(operations.owner, this.me), eq(operations.state, "running")))
        .run()
        .catch(() => {
          // The database is away for a moment: the next renewal tries again, well within the lease.
        });
    }, this.leaseMs / 3);
    timer.unref();
    this.renewing.set(opId, timer);
  }

  /** Appends a completed step; inside the caller's transaction when given its writer (`tx`). */
  async step(opId: string, step: string, outcome = "ok", tx?: SqlWriter): Promise<void> {
    const entry = JSON.stringify({ step, at: new Date().toISOString(), outcome });
    await (tx ? ormOf(tx) : this.orm)
      .update(operations)
      .set({ steps: sql`json_insert(${operations.steps}, '$[#]', json(${entry}))` })
      .where(eq(operations.id, opId))
      .run();
  }

  async finish(opId: string, state: "done" | "rolled_back" | "failed", error?: string, tx?: SqlWriter): Promise<void> {
    clearInterval(this.renewing.get(opId));
    this.renewing.delete(opId);
    await (tx ? ormOf(tx) : this.orm)
      .update(operations)
      .set({ state, error: error ?? null, finishedAt: new Date().toISOString() })
      .where(and(eq(operations.id, opId), eq(operations.state, "running")))
      .run();
  }

  async get(opId: string): Promise<Operation | undefined> {
    const row = await this.orm.select().from(operations).where(eq(operations.id, opId)).get();
    return row ? parse(row) : undefined;
  }

  async running(): Promise<Operation[]> {
    return (await this.orm.select().from(operations).where(eq(operations.state, "running")).orderBy(asc(operations.startedAt)).all()).map(parse);
  }

  async history(tenantId: string): Promise<Operation[]> {
    return (await this.orm.select().from(operations).where(eq(operations.tenantId, tenantId)).orderBy(desc(operations.startedAt), desc(operations.id)).all()).map(parse);
  }
}

export function hasStep(op: Operation, step: string): boolean {
  return op.steps.some((s) => s.step === step);
}

function parse(row: OperationRow): Operation {
  return {
    ...row,
    input: JSON.parse(row.input) as Record<string, unknown>,
    steps: JSON.parse(row.steps) as OperationStep[],
    owner: row.owner ? (JSON.parse(row.owner) as ProcessOwner) : null,
  };
}
