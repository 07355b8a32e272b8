import type { Logger } from "pino";
import type { ThreadAccess } from "../storage/files.ts";
import { workerEntry } from "../worker-entry.ts";
import type { SyncRules } from "./entities.ts";
import type { WorkerReply, WorkerRequest } from "./fanout-worker.ts";
import type { Job, Plan } from "./plan.ts";

export type WorkerResult = WorkerReply["results"][number];

/**
 * A few worker threads that apply a plan to tenant files in parallel. Created on first use and not
 * keeping the process alive; if a worker cannot start (or dies), its share comes back as errors and
 * the relay retries those tenants like any other failure.
 */
export class FanoutWorkers {
  private workers: Worker[] = [];
  /** Set when a worker failed to load or died: the relay then applies everything on its own thread. */
  private broken = false;
  private batch = 0;

  constructor(
    private readonly size: number,
    private readonly access: ThreadAccess,
    private readonly rules: SyncRules,
    private readonly log: Logger,
  ) {}

  get available(): boolean {
    return this.size > 0 && !this.broken;
  }

  async apply(plan: Plan, jobs: Job[]): Promise<WorkerResult[]> {
    this.start();
    const shares = Array.from({ length: this.workers.length }, () => [] as Job[]);
    jobs.forEach((job, i) => shares[i % shares.length]?.push(job));
    const replies = await Promise.all(shares.map((share, i) => (share.length ? this.run(this.workers[i] as Worker, plan, share) : Promise.resolve([]))));
    return replies.flat();
  }

  stop(): void {
    for (const w of this.workers) w.terminate();
    this.workers = [];
  }

  private start(): void {
    if (this.workers.length > 0) return;
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(workerEntry("sync/fanout-worker.ts"));
      (worker as unknown as { unref(): void }).unref();
      this.workers.push(worker);
    }
  }

  private run(worker: Worker, plan: Plan, jobs: Job[]): Promise<WorkerResult[]> {
    const batch = ++this.batch;
    return new Promise((resolve) => {
      const done = (results: WorkerResult[]) => {
        worker.removeEventListener("message", onMessage);
        worker.removeEventListener("error", onError);
        resolve(results);
      };
      const onMessage = (event: MessageEvent<WorkerReply>) => {
        if (event.data.batch === batch) done(event.data.results);
      };
      const onError = (event: ErrorEvent) => {
        this.log.error({ err: event.message }, "fan-out worker failed; its tenants retry on the relay's own thread");
        this.broken = true;
        this.stop();
        done(jobs.map((j) => ({ tenantId: j.tenantId, error: { message: `fan-out worker failed: ${event.message}` } })));
      };
      worker.addEventListener("message", onMessage);
      worker.addEventListener("error", onError);
      const files = jobs.map((job) => ({ ...job, file: this.access.fileOf(job.tenantId) }));
      worker.postMessage({ batch, busyTimeoutMs: this.access.busyTimeoutMs, rules: this.rules, plan, jobs: files } satisfies WorkerRequest);
    });
  }
}
