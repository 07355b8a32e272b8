import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { TenancyConfig } from "../config/index.ts";
import type { Logger } from "../log.ts";
import { ControlPlanePoll, FileTenantStore, NamespaceTenantStore, openControlPlaneFile, openControlPlaneNamespace, SqldAdmin, type ControlPlane, type ControlPlaneChanges } from "../storage/index.ts";
import { ControlPlaneCommits } from "../storage/index.ts";
import { handleBudget } from "../storage/index.ts";
import { writeProblem } from "../storage/index.ts";
import { HandlePool, type TenantStore } from "../storage/files.ts";
import { OperationJournal } from "./journal.ts";
import { TenantLifecycle } from "./lifecycle.ts";
import { FilePresence } from "./file-presence.ts";
import { NamespacePresence, type TenantPresence } from "./presence.ts";
import { TenantRegistry } from "./registry.ts";
import { isFileTenantId } from "./tenant-id.ts";

/** Everything that knows about tenants, over one data directory. */
export interface Tenancy {
  dir: string;
  cp: ControlPlane;
  /** Other processes' commits to the control plane, noticed once for the registry and the relay. */
  commits: ControlPlaneChanges;
  /** Where the tenants' databases are. */
  store: TenantStore;
  /** The same store when tenants are local files (adoption, backups, file checks, the handle pool); undefined on a libSQL server. */
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
export function openTenancy(config: TenancyConfig, log: Logger): Promise<Tenancy> {
  return config.databaseUrl ? openNamespaceTenancy(config, log) : openFileTenancy(config, log);
}

/** Tenants as files under `<data-dir>/tenants`. */
async function openFileTenancy(config: TenancyConfig, log: Logger): Promise<Tenancy> {
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
  const isFileId = (id: string) => isFileTenantId(id, config.controlPlane);
  const files = new FileTenantStore(dir, pool, isFileId);
  return assemble(config, log, { dir, cp, commits, store: files, files }, new FilePresence(dir, isFileId, join(config.dataDir, "tenant-verdicts.json")));
}

/**
 * Tenants as namespaces of a libSQL server, the control plane the namespace named by its id. The
 * data directory keeps only what is this gateway's own (the dev signing key, request bodies).
 */
async function openNamespaceTenancy(config: TenancyConfig, log: Logger): Promise<Tenancy> {
  const dir = tenantsDir(config);
  mkdirSync(dir, { recursive: true });
  const server = { url: config.databaseUrl, authToken: config.databaseAuthToken || undefined };
  const admin = new SqldAdmin(config.databaseAdminUrl);
  const cp = await openControlPlaneNamespace(server, admin, config.controlPlane);
  const commits = await new ControlPlanePoll(cp.sql, log).prepare();
  const store = new NamespaceTenantStore({
    server,
    admin,
    controlPlane: cp.sql,
    controlPlaneId: config.controlPlane,
    maxClients: config.maxOpenFiles || 1_000,
    isValidId: (id) => isFileTenantId(id, config.controlPlane) && id !== config.controlPlane,
  });
  return assemble(config, log, { dir, cp, commits, store }, new NamespacePresence());
}

/** The registry, the journal and the lifecycle over a store and its control plane: the same for every store. */
async function assemble(
  config: TenancyConfig,
  log: Logger,
  parts: Pick<Tenancy, "dir" | "cp" | "commits" | "store" | "files">,
  presence: TenantPresence,
): Promise<Tenancy> {
  const { cp, store, files } = parts;
  const registry = await new TenantRegistry(cp, parts.commits, presence).open();
  const journal = new OperationJournal(cp.sql);
  const lifecycle = new TenantLifecycle({
    cp,
    store,
    files,
    // Files stage beside the tenants, so the rename into place stays on one file system.
    stagingDir: files?.tmpDir ?? join(parts.dir, ".tmp"),
    registry,
    journal,
    reserved: new Set(config.reserved),
    trashRetentionMs: config.trashRetentionDays * 86_400_000,
    universalLoginVersion: config.universalLoginVersion,
    log,
  });
  return { ...parts, registry, journal, lifecycle };
}

/** Why the gateway could not write the control plane or make and retire tenant files now, or undefined. */
export function tenancyWriteProblem(t: Pick<Tenancy, "cp" | "files">): string | undefined {
  return writeProblem([...t.cp.writePaths(), ...(t.files ? [t.files.tmpDir, t.files.trashDir] : [])]);
}

export function closeTenancy(t: Tenancy): void {
  t.registry.close();
  t.commits.close();
  t.files?.pool.closeAll();
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
export { PeriodicRescan, type TenantWatch } from "./periodic-rescan.ts";
export { currentOwner, isDeadHere } from "./process-owner.ts";
