import type { Logger } from "pino";
import type { TenantLifecycle } from "./lifecycle.ts";
import type { TenantRegistry } from "./registry.ts";

/** What keeps the registry true beside the control plane's changes, whatever holds the tenants. */
export interface TenantWatch {
  start(): void;
  stop(): Promise<void>;
  rescan(): Promise<void>;
}

export interface PeriodicRescanOptions {
  registry: TenantRegistry;
  lifecycle: TenantLifecycle;
  rescanMs: number;
  log: Logger;
  /** After each rescan: what is known about the tenants' contents is checked against them again. */
  onRescan?: () => Promise<void>;
  /** What a store adds to each rescan (files: handles on replaced files, unregistered files). */
  also?: () => Promise<void>;
}

/**
 * The rescan every store has, every `rescanMs` and one at a time: it finishes or undoes the
 * operations a dead process left (a CLI command beside the gateway, another gateway whose lease
 * lapsed) and looks at every tenant's database again, so a repaired one serves again. On a libSQL
 * server it is the whole watch; the data-directory watch (watch.ts) adds file events to it.
 */
export class PeriodicRescan implements TenantWatch {
  private timer?: ReturnType<typeof setInterval>;
  private rescanning?: Promise<void>;

  constructor(private readonly o: PeriodicRescanOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.rescan(), this.o.rescanMs);
    this.timer.unref();
    void this.rescan();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.rescanning;
  }

  /** A timer firing while a rescan runs (a slow disk, a slow server) joins it. */
  rescan(): Promise<void> {
    this.rescanning ??= this.once().finally(() => (this.rescanning = undefined));
    return this.rescanning;
  }

  private async once(): Promise<void> {
    try {
      const recovered = await this.o.lifecycle.recover();
      if (recovered.finished.length + recovered.undone.length > 0) this.o.log.warn(recovered, "repaired operations a dead process left running");
      await this.o.registry.rescan();
      await this.o.also?.();
      await this.o.onRescan?.();
    } catch (err) {
      this.o.log.error({ err }, "rescan of the tenants failed; the next one tries again");
    }
  }
}
