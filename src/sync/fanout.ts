import type { Logger } from "pino";
import type { TenantIdentity, TenantAccess } from "../storage/files.ts";
import type { SyncRules } from "./entities.ts";
import { FanoutWorkers } from "./fanout-workers.ts";
import { timeSlices } from "../time-slices.ts";
import { PlanApplier, type Job, type Outcome, type Plan } from "./plan.ts";

/** Below this many tenants to update, threads cost more than they save. */
const WORKER_THRESHOLD = 64;

export interface FanoutOptions {
  store: TenantAccess;
  rules: SyncRules;
  /** Threads that apply a large fan-out in parallel, where the store lets threads open tenants (0: none). */
  workers: number;
  log: Logger;
}

/**
 * One tenant's share of a fan-out: its outcome, with its database's identity from before the
 * outcome's cursor was read and when its apply started; or the error it failed with.
 */
export type FanoutResult = Applied | { tenantId: string; error: Error };

export interface Applied {
  tenantId: string;
  outcome: Outcome;
  identity: TenantIdentity | undefined;
  started: number;
}

/** What the fan-out asks of whoever runs it. */
export interface FanoutTenants {
  /** The tenant's job, asked just before its plan is applied. */
  job(tenantId: string): Job;
  /** Told each tenant's result as it comes; the next tenant waits for it. */
  record(result: FanoutResult): void | Promise<void>;
  /** True once the run is to end: no further tenant is started on this thread. */
  stopped(): boolean;
}

/**
 * Applies one plan to the tenants due, each in its own transaction. Databases the store holds open
 * are cheapest on this thread; for a large fan-out over a store that lets threads open its files,
 * the rest go to the workers, whose opens, writes and closes overlap (the work is bound by I/O
 * latency) while this thread keeps serving requests.
 */
export class Fanout {
  private readonly workers?: FanoutWorkers;

  constructor(private readonly o: FanoutOptions) {
    if (o.workers > 0 && o.store.threads) this.workers = new FanoutWorkers(o.workers, o.store.threads, o.rules, o.log);
  }

  async apply(plan: Plan, due: readonly string[], tenants: FanoutTenants): Promise<void> {
    const { store } = this.o;
    const applier = new PlanApplier(plan, this.o.rules);
    const open = new Set(store.openIds());
    const toWorkers = this.workers?.available && due.length >= WORKER_THRESHOLD ? due.filter((id) => !open.has(id)) : [];
    const here = toWorkers.length > 0 ? due.filter((id) => open.has(id)) : due;
    // Taken here, before the workers read any cursor: a file that changes after counts as changed.
    const identities = new Map(toWorkers.map((id) => [id, store.identity(id)]));
    const away = toWorkers.length > 0 ? (this.workers as FanoutWorkers).apply(plan, toWorkers.map((id) => tenants.job(id))) : Promise.resolve([]);

    // Up to `overlap` tenants in flight on this thread (a server's namespaces); results are recorded
    // one after another, in the order they come.
    let next = 0;
    // The fan-out shares the event loop with the server: requests get through between slices.
    const slice = timeSlices();
    let recorded: Promise<void> = Promise.resolve();
    const record = (result: FanoutResult) => (recorded = recorded.then(() => tenants.record(result)));
    const lane = async () => {
      while (next < here.length && !tenants.stopped()) {
        const tenantId = here[next++] as string;
        const started = performance.now();
        let result: FanoutResult;
        try {
          const identity = store.identity(tenantId);
          const job = tenants.job(tenantId);
          result = { tenantId, outcome: await store.use(tenantId, (db) => applier.apply(db, job)), identity, started };
        } catch (err) {
          result = { tenantId, error: err as Error };
        }
        await record(result);
        await slice();
      }
    };
    await Promise.all(Array.from({ length: Math.min(Math.max(1, store.overlap ?? 1), here.length) }, lane));
    const started = performance.now();
    for (const r of await away) {
      if (r.outcome) await tenants.record({ tenantId: r.tenantId, outcome: r.outcome, identity: identities.get(r.tenantId), started });
      else await tenants.record({ tenantId: r.tenantId, error: Object.assign(new Error(r.error?.message ?? "failed"), { code: r.error?.code }) });
    }
  }

  stop(): void {
    this.workers?.stop();
  }
}
