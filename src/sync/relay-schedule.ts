import type { Logger } from "pino";
import type { ControlPlaneChanges } from "../storage/index.ts";

export interface RelayScheduleOptions {
  /** Other processes' commits and the control-plane file's events: each asks for a run. */
  commits: ControlPlaneChanges;
  /** Safety-net poll: a run at least this often, whatever was missed. */
  pollMs: number;
  /** One pass of the relay. */
  run: () => Promise<void>;
  log: Logger;
}

/**
 * When the relay runs: on the control plane's commits, on a slow poll, when a backing-off tenant is
 * due, and whenever it is asked. Runs never overlap and wakes coalesce, so a burst of them costs one
 * more pass. Wakes start runs only once started (a serving process); CLI commands drain instead.
 */
export class RelaySchedule {
  private running?: Promise<void>;
  private pending = false;
  private stopping = false;
  private started = false;
  private poll?: ReturnType<typeof setInterval>;
  private retry?: ReturnType<typeof setTimeout>;
  private unsubscribe?: () => void;
  private unwatch?: () => Promise<void>;

  constructor(private readonly o: RelayScheduleOptions) {}

  /** Set once stopping: a run in progress ends at its next tenant. */
  get stopped(): boolean {
    return this.stopping;
  }

  start(): void {
    this.stopping = false;
    this.started = true;
    this.poll = setInterval(() => this.wake(), this.o.pollMs);
    this.poll.unref();
    // Told from inside whoever looked (a lookup, perhaps mid-transaction): the run starts after it.
    this.unsubscribe = this.o.commits.subscribe(() => queueMicrotask(() => this.wake()));
    this.unwatch = this.o.commits.watch();
    this.wake();
  }

  /** Stops the timers and the watch, and waits for the run in progress. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.poll);
    clearTimeout(this.retry);
    this.unsubscribe?.();
    await this.unwatch?.();
    await this.running;
  }

  /** Asks for a run (another pass, when one is running). */
  wake(): void {
    this.pending = true;
    if (!this.running && !this.stopping && this.started) this.running = this.loop();
  }

  /** Runs until a pass asks for no other. For tests and the CLI. */
  async drain(): Promise<void> {
    do {
      this.pending = true;
      this.running ??= this.loop();
      await this.running;
    } while (this.pending);
  }

  /** A run at `at` (a backing-off tenant's next attempt), replacing the one asked before; none for undefined. */
  retryAt(at: number | undefined): void {
    clearTimeout(this.retry);
    if (at === undefined || this.stopping) return;
    this.retry = setTimeout(() => this.wake(), Math.max(10, at - Date.now()));
    this.retry.unref();
  }

  private async loop(): Promise<void> {
    try {
      while (this.pending) {
        this.pending = false;
        await this.o.run();
      }
    } catch (err) {
      this.o.log.error({ err }, "outbox relay run failed; the next wake retries");
    } finally {
      this.running = undefined;
    }
  }
}
