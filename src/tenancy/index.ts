import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { TenancyConfig } from "../config/index.ts";
import type { Logger } from "../log.ts";
import { FileTenantStore, openControlPlaneFile, type ControlPlane } from "../storage/index.ts";
import { ControlPlaneCommits } from "../storage/index.ts";
import { handleBudget } from "../storage/index.ts";
import { writeProblem } from "../storage/index.ts";
import { HandlePool, type TenantStore } from "../storage/files.ts";
import { OperationJournal } from "./journal.ts";
import { TenantLifecycle } from "./lifecycle.ts";
import { TenantRegistry } from "./registry.ts";
import { isFileTenantId } from "./tenant-id.ts";

/** Everything that knows about tenants, over one data directory. */
export interface Tenancy {
  dir: string;
  cp: ControlPlane;
  /** Other processes' commits to the control plane, noticed once for the registry and the relay. */
  commits: ControlPlaneCommits;
  pool: HandlePool;
  /** Where the tenants' databases are. */
  store: TenantStore;
  /** The same store when tenants are local files (adoption, backups, file checks); undefined on a libSQL server. */
  files?: FileTenantStore;
  registry: TenantRegistry;
  journal: OperationJournal;
  lifecycle: TenantLifecycle;
}

export function tenantsDir(config: Pick<TenancyConfig, "dataDir">): string {
  return join(config.dataDir, "tenants");
}

/**
 * Opens the control plane (creating or migrating it) and the parts around it. Does not recover
 * interrupted operations: only the serving process does that, so a CLI command run beside a live
 * gateway never mistakes the gateway's running work for a crash.
 */
export async function openTenancy(config: TenancyConfig, log: Logger): Promise<Tenancy> {
  const dir = tenantsDir(config);
  mkdirSync(dir, { recursive: true });
  const cp = openControlPlaneFile(join(dir, `${config.controlPlane}.sqlite`), config.controlPlane, { busyTimeoutMs: config.controlPlaneLockWaitMs });
  const pool = new HandlePool({
    dir,
    maxOpen: config.maxOpenFiles || handleBudget(),
    // Pool handles serve the relay's writes and the guard's reads (never blocked in WAL): a locked
    // tenant file must make the relay back off, not stall it.
    busyTimeoutMs: config.syncLockWaitMs,
    isValidId: (id) => isFileTenantId(id, config.controlPlane) && id !== config.controlPlane,
  });
  const commits = new ControlPlaneCommits(cp, log);
  const registry = await new TenantRegistry(cp, commits, dir).open();
  const files = new FileTenantStore(dir, pool);
  const journal = new OperationJournal(cp.sql);
  const lifecycle = new TenantLifecycle({
    cp,
    pool,
    store: files,
    files,
    registry,
    journal,
    reserved: new Set(config.reserved),
    trashRetentionMs: config.trashRetentionDays * 86_400_000,
    universalLoginVersion: config.universalLoginVersion,
    log,
  });
  return { dir, cp, commits, pool, store: files, files, registry, journal, lifecycle };
}

/** Why the gateway could not write the control plane or make and retire tenant files now, or undefined. */
export function tenancyWriteProblem(t: Pick<Tenancy, "cp" | "files">): string | undefined {
  return writeProblem([...t.cp.writePaths(), ...(t.files ? [t.files.tmpDir, t.files.trashDir] : [])]);
}

export function closeTenancy(t: Tenancy): void {
  t.commits.close();
  t.pool.closeAll();
  t.cp.close();
}
export { integrityCheck, type RestoreOptions } from "./backups.ts";
export { newDomainId } from "./ids.ts";
export type { Operation, OperationJournal } from "./journal.ts";
export { TENANT_SETTINGS } from "./lifecycle.ts";
export type { TenantLifecycle } from "./lifecycle.ts";
export type { TenantRegistry } from "./registry.ts";
export { hostTarget, requestTarget, servingTenantOfHost, targetRules } from "./request-target.ts";
export type { TargetRules } from "./request-target.ts";
export { normalizeHost } from "./resolve-tenant.ts";
export { assertChildTenantId, isFileTenantId } from "./tenant-id.ts";
export { TrustedProxies, requestedHost } from "./trusted-proxies.ts";
export { DataDirWatch } from "./watch.ts";
