import type { Logger } from "pino";
import type { TenantLifecycle } from "./lifecycle.ts";
import type { TenantRegistry } from "./registry.ts";

/** What keeps the registry true beside the control plane's changes, whatever holds the tenants. */
export interface TenantWatch {
  start(): void;
  stop(): Promise<void>;
  rescan(): Promise<void>;
}

export interface NamespaceRescanOptions {
  registry: TenantRegistry;
  lifecycle: TenantLifecycle;
  rescanMs: number;
  log: Logger;
  /** After each rescan: what is known about the tenants' contents is checked against them again. */
  onRescan?: () => void;
}

/**
 * The periodic rescan of tenants on a libSQL server. There are no files to watch; what it does is
 * finish or undo the operations of a gateway that died (their leases lapsed) and forget what uses
 * found unreadable, so a repaired namespace serves again.
 */
export class NamespaceRescan implements TenantWatch {
  private timer?: ReturnType<typeof setInterval>;
  private rescanning?: Promise<void>;

  constructor(private readonly o: NamespaceRescanOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.rescan(), this.o.rescanMs);
    this.timer.unref();
    void this.rescan();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.rescanning;
  }

  /** One at a time: a timer firing while one runs (a slow server) joins it. */
  rescan(): Promise<void> {
    this.rescanning ??= this.once().finally(() => (this.rescanning = undefined));
    return this.rescanning;
  }

  private async once(): Promise<void> {
    try {
      const recovered = await this.o.lifecycle.recover();
      if (recovered.finished.length + recovered.undone.length > 0) this.o.log.warn(recovered, "finished or undid operations a gateway that died left running");
      this.o.registry.rescan();
      this.o.onRescan?.();
    } catch (err) {
      this.o.log.error({ err }, "rescan of the tenants failed; the next one tries again");
    }
  }
}
