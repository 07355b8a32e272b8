import type { Database } from "bun:sqlite";
import { readdirSync } from "node:fs";
import { HandlePool, TenantFileError } from "../storage/files.ts";

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/**
 * How often the held files are compared with their paths (two stats each), at a call naming any
 * tenant: a file moved to the trash, purged, restored or renamed over is let go within this long, so
 * writes never go on into a file nobody else reads, and a deleted file's disk space is freed even if
 * its tenant is never named again (a purged tenant's id is not).
 */
const REPLACED_CHECK_MS = 100;
/** The same comparison when AuthHero makes no call at all: one timer for every held file. */
const IDLE_CHECK_MS = 1000;

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
 * is held in a pool of its own (tenants never push it out) and counts toward `maxOpen`.
 */
export class TenantFiles<A> {
  private readonly pool: HandlePool;
  private readonly controlPlanePool: HandlePool;
  private readonly adapters = new WeakMap<Database, A>();
  private checkedAt = Number.NEGATIVE_INFINITY;
  private readonly idleCheck: ReturnType<typeof setInterval>;

  constructor(
    dir: string,
    private readonly controlPlane: string,
    private readonly factory: (db: Database, tenantId: string) => A,
    maxOpen: number,
    busyTimeoutMs = 5000,
  ) {
    this.pool = new HandlePool({ dir, maxOpen: Math.max(1, maxOpen - 1), busyTimeoutMs, isValidId: (id) => LABEL.test(id) });
    this.controlPlanePool = new HandlePool({ dir, maxOpen: 1, busyTimeoutMs, isValidId: (id) => id === controlPlane });
    // Unref'd: it never keeps AuthHero's process alive.
    this.idleCheck = setInterval(() => this.letGoOfReplaced(), IDLE_CHECK_MS);
    this.idleCheck.unref();
  }

  /** The tenant's adapters, or undefined when the id is not a tenant id or has no file. */
  get(tenantId: unknown): A | undefined {
    this.letGoOfReplaced();
    if (typeof tenantId !== "string") return undefined;
    const pool = tenantId === this.controlPlane ? this.controlPlanePool : LABEL.test(tenantId) ? this.pool : undefined;
    if (!pool) return undefined;
    let db: Database;
    try {
      db = pool.get(tenantId);
    } catch (err) {
      // The control plane's file answers nothing while it cannot be opened (the module's creation says why).
      if (err instanceof TenantFileError && (err.problem === "missing" || pool === this.controlPlanePool)) return undefined;
      throw err;
    }
    let adapters = this.adapters.get(db);
    if (!adapters) this.adapters.set(db, (adapters = this.factory(db, tenantId)));
    return adapters;
  }

  closeAll(): void {
    clearInterval(this.idleCheck);
    this.pool.closeAll();
    this.controlPlanePool.closeAll();
  }

  /**
   * Closes every held handle whose path no longer names its file, at most every REPLACED_CHECK_MS:
   * checking only the tenant a call names kept a purged tenant's deleted file open for good.
   */
  private letGoOfReplaced(): void {
    const now = performance.now();
    if (now - this.checkedAt < REPLACED_CHECK_MS) return;
    this.checkedAt = now;
    this.pool.evictReplaced();
    this.controlPlanePool.evictReplaced();
  }
}
