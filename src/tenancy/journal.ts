import { and, asc, desc, eq, sql } from "drizzle-orm";
import { HttpError } from "../http-error.ts";
import { operations, ormOf, type OperationRow, type Orm, type SqlDb, type SqlWriter } from "../storage/index.ts";
import { newOperationId } from "./ids.ts";
import { currentOwner, type ProcessOwner } from "./process-owner.ts";

export type OperationKind = OperationRow["kind"];

export interface OperationStep {
  step: string;
  at: string;
  outcome: string;
}

export interface Operation extends Omit<OperationRow, "input" | "steps" | "owner"> {
  input: Record<string, unknown>;
  steps: OperationStep[];
  owner: ProcessOwner | null;
}

/** The lifecycle journal in the control-plane file (`tenantgate_operations`). */
export class OperationJournal {
  private readonly orm: Orm;

  constructor(db: SqlDb) {
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
      owner: JSON.stringify(currentOwner()),
    };
    try {
      await this.orm.insert(operations).values(row).run();
    } catch (err) {
      // drizzle wraps the engine's error; SQLite's own message is in its cause.
      if (/UNIQUE constraint failed/.test(`${(err as Error).message} ${((err as Error).cause as Error | undefined)?.message ?? ""}`))
        throw new HttpError(409, `another operation on tenant "${tenantId}" is still running`);
      throw err;
    }
    return parse({ ...row, error: null, finishedAt: null });
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
