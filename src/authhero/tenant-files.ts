import type { Database } from "bun:sqlite";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { HandlePool, TenantFileError } from "../storage/files.ts";
import { openSqlite } from "../storage/files.ts";

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/**
 * How often a held file is compared with its path (two stats): a file moved to the trash, restored or
 * renamed over is let go within this long, so writes never go on into a file nobody else reads.
 */
const REPLACED_CHECK_MS = 100;

/** The ids of the tenant files in `dir` now (names only: no file is opened). */
export function tenantFileIds(dir: string, controlPlane: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith(".sqlite")).map((n) => n.slice(0, -".sqlite".length)).filter((id) => LABEL.test(id) || id === controlPlane);
}

/**
 * The AuthHero process's side of the one-file-per-tenant layout: the gateway's handle pool (bounded
 * LRU, handles closed when they fall out) over `<dir>/<id>.sqlite`, each handle with the adapters the
 * caller's `open` factory made over it. It never creates a file: provisioning is the gateway's job,
 * and an unknown id must behave like a missing row. The control-plane file, read on every fallback,
 * stays open beside the pool and counts toward `maxOpen`.
 */
export class TenantFiles<A> {
  private readonly pool: HandlePool;
  private readonly adapters = new WeakMap<Database, A>();
  private controlPlaneEntry?: { db: Database; adapters: A };
  private readonly checkedAt = new Map<string, number>();

  constructor(
    private readonly dir: string,
    private readonly controlPlane: string,
    private readonly factory: (db: Database, tenantId: string) => A,
    maxOpen: number,
    private readonly busyTimeoutMs = 5000,
  ) {
    this.pool = new HandlePool({ dir, maxOpen: Math.max(1, maxOpen - 1), busyTimeoutMs, isValidId: (id) => LABEL.test(id) });
  }

  /** The tenant's adapters, or undefined when the id is not a tenant id or has no file. */
  get(tenantId: unknown): A | undefined {
    if (typeof tenantId !== "string") return undefined;
    if (tenantId === this.controlPlane) return this.controlPlaneAdapters();
    if (!LABEL.test(tenantId)) return undefined;
    const now = performance.now();
    if (now - (this.checkedAt.get(tenantId) ?? Number.NEGATIVE_INFINITY) >= REPLACED_CHECK_MS) {
      this.pool.evictIfReplaced(tenantId);
      this.checkedAt.set(tenantId, now);
    }
    let db: Database;
    try {
      db = this.pool.get(tenantId);
    } catch (err) {
      if (err instanceof TenantFileError && err.problem === "missing") return undefined;
      throw err;
    }
    let adapters = this.adapters.get(db);
    if (!adapters) this.adapters.set(db, (adapters = this.factory(db, tenantId)));
    return adapters;
  }

  closeAll(): void {
    this.pool.closeAll();
    this.controlPlaneEntry?.db.close(false);
    this.controlPlaneEntry = undefined;
  }

  private controlPlaneAdapters(): A | undefined {
    if (!this.controlPlaneEntry) {
      const db = this.tryOpen(join(this.dir, `${this.controlPlane}.sqlite`));
      if (!db) return undefined;
      this.controlPlaneEntry = { db, adapters: this.factory(db, this.controlPlane) };
    }
    return this.controlPlaneEntry.adapters;
  }

  private tryOpen(path: string): Database | undefined {
    try {
      return openSqlite(path, { busyTimeoutMs: this.busyTimeoutMs });
    } catch {
      return undefined;
    }
  }
}
