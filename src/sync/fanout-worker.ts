// A fan-out worker: applies a plan to a share of the tenant files, each opened, applied and closed in
// turn. Writing a tenant file is bound by I/O latency (the checkpoint's fsyncs when it closes), so a
// few threads at once multiply the fan-out's throughput even on two cores (docs/benchmarks.md).
import { join } from "node:path";
import { identityOf, type FileIdentity } from "../storage/files.ts";
import { openSqlite } from "../storage/files.ts";
import type { SyncRules } from "./entities.ts";
import { PlanApplier, type Job, type Outcome, type Plan } from "./plan.ts";

export interface WorkerRequest {
  batch: number;
  dir: string;
  busyTimeoutMs: number;
  rules: SyncRules;
  plan: Plan;
  jobs: Job[];
}

export interface WorkerReply {
  batch: number;
  /** `identity`: the file's, taken before its cursor was read (see OutboxRelay.recheckFiles). */
  results: { tenantId: string; outcome?: Outcome; identity?: FileIdentity; error?: { message: string; code?: string } }[];
}

declare const self: Worker;

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const { batch, dir, busyTimeoutMs, rules, plan, jobs } = event.data;
  const applier = new PlanApplier(plan, rules);
  const results: WorkerReply["results"] = [];
  for (const job of jobs) {
    try {
      const path = join(dir, `${job.tenantId}.sqlite`);
      const identity = identityOf(path);
      const db = openSqlite(path, { busyTimeoutMs });
      try {
        results.push({ tenantId: job.tenantId, outcome: applier.apply(db, job), identity });
      } finally {
        db.close(false);
      }
    } catch (err) {
      results.push({ tenantId: job.tenantId, error: { message: (err as Error).message, code: (err as { code?: string }).code } });
    }
  }
  self.postMessage({ batch, results } satisfies WorkerReply);
};
