import { watch, type FSWatcher } from "chokidar";
import { basename } from "node:path";
import type { Logger } from "pino";
import type { TenantLifecycle } from "./lifecycle.ts";
import type { TenantRegistry } from "./registry.ts";

export interface DataDirWatchOptions {
  dir: string;
  registry: TenantRegistry;
  lifecycle: TenantLifecycle;
  /** Register unlisted tenant files (true) or only report them (false). */
  adoptFiles: boolean;
  rescanMs: number;
  log: Logger;
}

const TENANT_FILE = /^([^.]+)\.sqlite$/;

/**
 * Keeps the registry's view of `data/tenants/` current: chokidar events for speed, and a periodic
 * rescan as the truth, because file-system watchers can miss events. A removed file makes its tenant
 * unavailable (never deleted); a restored file brings it back; an unlisted file is adopted or reported.
 */
export class DataDirWatch {
  private watcher?: FSWatcher;
  private timer?: ReturnType<typeof setInterval>;
  private readonly reported = new Set<string>();

  constructor(private readonly o: DataDirWatchOptions) {}

  start(): void {
    const { dir, registry } = this.o;
    this.watcher = watch(dir, {
      depth: 0,
      ignoreInitial: true,
      // A file being copied in is reported once its size settles, not half-written.
      awaitWriteFinish: { stabilityThreshold: 150, pollInterval: 50 },
      // Only `<id>.sqlite` files at the top: not -wal/-shm, not .tmp/ or .trash/.
      ignored: (path, stats) => path !== dir && (basename(path).startsWith(".") || (stats?.isFile() === true && !TENANT_FILE.test(basename(path)))),
    });
    this.watcher
      .on("add", (path) => this.onFile(path, (id) => registry.fileAdded(id)))
      .on("change", (path) => this.onFile(path, (id) => registry.fileChanged(id)))
      .on("unlink", (path) => this.onFile(path, (id) => registry.fileRemoved(id)))
      .on("error", (err) => this.o.log.warn({ err }, "data directory watcher error; the periodic rescan covers it"))
      // With ignoreInitial, a file that appears while chokidar still reads the folder gets no event:
      // look once more when it is ready instead of waiting a whole rescan period.
      .on("ready", () => this.rescan());
    this.timer = setInterval(() => this.rescan(), this.o.rescanMs);
    this.timer.unref();
    this.handleOrphans();
  }

  rescan(): void {
    try {
      // A CLI command that died mid-operation beside the gateway is repaired here, not at next start.
      const recovered = this.o.lifecycle.recover();
      if (recovered.finished.length + recovered.undone.length > 0) this.o.log.warn(recovered, "repaired operations a dead process left running");
      this.o.registry.rescan();
      this.handleOrphans();
    } catch (err) {
      this.o.log.error({ err }, "rescan of the data directory failed");
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.watcher?.close();
  }

  private onFile(path: string, apply: (id: string) => void): void {
    const id = TENANT_FILE.exec(basename(path))?.[1];
    if (!id) return;
    apply(id);
    this.handleOrphans();
  }

  private handleOrphans(): void {
    for (const id of this.o.registry.orphans()) {
      if (!this.o.adoptFiles) {
        if (!this.reported.has(id)) this.o.log.warn({ tenant: id }, "tenant file is not registered on the control plane (adoption is off)");
        this.reported.add(id);
        continue;
      }
      try {
        const op = this.o.lifecycle.adopt(id);
        this.o.log.info({ tenant: id, op: op.id }, "adopted an unregistered tenant file");
      } catch (err) {
        if (!this.reported.has(id)) this.o.log.warn({ tenant: id, reason: (err as Error).message }, "tenant file not adopted");
        this.reported.add(id);
      }
    }
  }
}
