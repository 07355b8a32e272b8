// A fan-out worker: applies a plan to a share of the tenant files, each opened, applied and closed in
// turn. Writing a tenant file is bound by I/O latency (the checkpoint's fsyncs when it closes), so a
// few threads at once multiply the fan-out's throughput even on two cores (docs/benchmarks.md). Each
// file is wrapped in the same SqlDb the main thread applies through, so both run one apply.
import { BunSqlDb, openSqlite } from "../storage/files.ts";
import type { SyncRules } from "./entities.ts";
import { PlanApplier, type Job, type Outcome, type Plan } from "./plan.ts";

export interface WorkerRequest {
  batch: number;
  /** The store's (ThreadAccess). */
  busyTimeoutMs?: number;
  rules: SyncRules;
  plan: Plan;
  /** Each with the file the store says is its tenant's. */
  jobs: (Job & { file: string })[];
}

export interface WorkerReply {
  batch: number;
  results: { tenantId: string; outcome?: Outcome; error?: { message: string; code?: string } }[];
}

declare const self: Worker;

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const { batch, busyTimeoutMs, rules, plan, jobs } = event.data;
  const applier = new PlanApplier(plan, rules);
  const results: WorkerReply["results"] = [];
  for (const job of jobs) {
    try {
      const db = new BunSqlDb(openSqlite(job.file, { busyTimeoutMs }));
      try {
        results.push({ tenantId: job.tenantId, outcome: await applier.apply(db, job) });
      } finally {
        db.close();
      }
    } catch (err) {
      results.push({ tenantId: job.tenantId, error: { message: (err as Error).message, code: (err as { code?: string }).code } });
    }
  }
  self.postMessage({ batch, results } satisfies WorkerReply);
};
