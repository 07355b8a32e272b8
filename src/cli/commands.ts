import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadDevKey, signDevToken } from "../auth/index.ts";
import type { Config } from "../config.ts";
import { createLogger } from "../log.ts";
import { REQUIRED_COLUMNS } from "../storage/baseline.ts";
import { assertColumns } from "../storage/columns.ts";
import { handleBudget, openFileLimit } from "../storage/descriptors.ts";
import { openRelay, type OutboxRelay } from "../sync/index.ts";
import { integrityCheck } from "../tenancy/backups.ts";
import { closeTenancy, openTenancy, type Tenancy } from "../tenancy/index.ts";
import { isFileTenantId } from "../tenancy/tenant-id.ts";
import { Progress } from "./progress.ts";

type Out = (line: string) => void;

/** The data directory with its outbox relay (not started): tenants made here are seeded like the server's. */
function withTenancy<T>(config: Config, fn: (t: Tenancy & { relay: OutboxRelay }) => T): T {
  const log = createLogger("warn", process.stderr as never);
  const tenancy = openTenancy(config, log);
  try {
    return fn({ ...tenancy, relay: openRelay(tenancy, config, log) });
  } finally {
    closeTenancy(tenancy);
  }
}

/** `tenantgate sync status`: the outbox head and every tenant's cursor, lag and last error. */
export function syncStatusCommand(config: Config, out: Out): number {
  return withTenancy(config, ({ relay, registry, cp }) => {
    // The files' own cursors, not the mirror the gateway last wrote: this is what AuthHero reads.
    relay.verifyAll();
    const summary = relay.summary();
    out(`head ${summary.head}: ${summary.in_sync} in sync, ${summary.lagging} lagging, ${summary.failing} failing, ${summary.unavailable} unavailable`);
    for (const id of registry.tenantIds().filter((t) => t !== cp.id).sort()) {
      const s = relay.status(id);
      out(`${id}\t${s.state}\tcursor ${s.cursor ?? "-"}\tlag ${s.lag ?? "-"}\tconflicts ${s.conflict_list.length}${s.last_error ? `\t${s.last_error}` : ""}`);
    }
    return summary.failing + summary.unavailable;
  });
}

/** `tenantgate sync reconcile <id> | --all`: compare and repair synced copies, with progress. */
export function syncReconcileCommand(config: Config, id: string | undefined, all: boolean, out: Out): number {
  return withTenancy(config, ({ relay, registry, cp }) => {
    const ids = all ? registry.tenantIds().filter((t) => t !== cp.id).sort() : id ? [id] : [];
    if (ids.length === 0) throw new Error("name a tenant or pass --all");
    if (!all && (id === cp.id || !cp.tenant(id as string))) throw new Error(`tenant "${id}" does not exist`);
    const progress = new Progress("reconciling", ids.length);
    let failed = 0;
    let changed = 0;
    ids.forEach((tenant, i) => {
      try {
        const result = relay.reconcile(tenant);
        changed += result.changed;
        if (!all) out(`${tenant}: ${result.changed} copies repaired, ${result.conflicts} conflicts, cursor ${result.cursor}`);
      } catch (err) {
        failed++;
        out(`${tenant}: ${(err as Error).message}`);
      }
      progress.tick(i + 1);
    });
    if (all) out(`${ids.length - failed} of ${ids.length} tenants reconciled; ${changed} copies repaired`);
    return failed;
  });
}

/** `tenantgate token`: a token the gateway trusts in --dev mode, shaped as AuthHero issues them. */
export async function tokenCommand(config: Config, opts: { org?: string; tenant?: string; sub?: string; permissions?: string[] }): Promise<string> {
  const claims: Parameters<typeof signDevToken>[1] = { sub: opts.sub, permissions: opts.permissions };
  if (opts.org) {
    const org = withTenancy(config, (t) => t.cp.organizationOf(opts.org as string));
    if (!org) throw new Error(`tenant "${opts.org}" has no organization on the control plane (create the tenant first)`);
    Object.assign(claims, { org_id: org.id, org_name: opts.org, tenant_id: config.controlPlane });
  } else {
    claims.tenant_id = opts.tenant ?? config.controlPlane;
  }
  return signDevToken(await loadDevKey(config.dataDir), claims, { audience: config.audience });
}

export function tenantsList(config: Config, out: Out): void {
  withTenancy(config, ({ cp, registry }) => {
    const { tenants, total } = cp.listTenants({ page: 0, perPage: Number.MAX_SAFE_INTEGER });
    for (const row of tenants) out(`${row.id}\t${registry.status(row.id)}\t${registry.orgOfTenant(row.id) ?? "-"}\t${row.friendly_name ?? ""}`);
    out(`${total} tenant(s)`);
  });
}

export function tenantsCreate(config: Config, id: string | undefined, friendlyName: string | undefined, out: Out): void {
  withTenancy(config, ({ lifecycle }) => {
    const created = lifecycle.create({ id, friendly_name: friendlyName ?? id ?? "New tenant" });
    out(`created ${created.tenant.id} (organization ${created.organization_id}, operation ${created.operation_id})`);
  });
}

export function tenantsDelete(config: Config, id: string, purge: boolean, out: Out): void {
  withTenancy(config, ({ lifecycle }) => {
    const op = lifecycle.delete(id, { purge });
    out(`deleted ${id} (operation ${op.id}: ${op.steps.map((s) => s.step).join(", ")})`);
  });
}

/** `tenantgate backup <id> <file>`: a checked snapshot of the tenant's file (a journaled operation). */
export function backupCommand(config: Config, id: string, file: string, out: Out): void {
  withTenancy(config, ({ lifecycle }) => {
    const op = lifecycle.backup(id, file);
    out(`backed up ${id} to ${op.input.target} (${op.steps.find((s) => s.step === "checked")?.outcome}, integrity ok)`);
  });
}

/**
 * `tenantgate restore <id> <file>`: puts a checked backup in place of the tenant's file (the current
 * one goes to the trash) and lists the tenant again if the control plane does not (a journaled operation).
 */
export function restoreCommand(config: Config, id: string, file: string, out: Out): void {
  withTenancy(config, ({ lifecycle, relay }) => {
    const op = lifecycle.restore(id, file);
    const trashed = op.steps.find((s) => s.step === "trashed")?.outcome;
    if (trashed && trashed !== "no current file") out(`moved the current file to ${trashed}`);
    // The relay's remembered cursor was the old file's; the restored one catches up from its own.
    relay.fileReplaced(id);
    out(`restored ${id} from ${op.input.backup}`);
  });
}

/** `tenantgate doctor`: checks the data directory and prints what is wrong. Returns the problem count. */
export function doctorCommand(config: Config, deep: boolean, out: Out): number {
  let problems = 0;
  const bad = (msg: string) => {
    problems++;
    out(`✗ ${msg}`);
  };
  const good = (msg: string) => out(`✓ ${msg}`);
  const limit = openFileLimit();
  const budget = config.maxOpenFiles || handleBudget(limit);
  if (limit < 1024) bad(`open-file limit is ${limit}; raise ulimit -n (at least 1024, ideally 65536)`);
  else good(`open-file limit ${limit}; up to ${budget} tenant files open at once`);
  // A check must not create what it checks: a mistyped --data-dir would otherwise come out "healthy".
  const cpFile = join(config.dataDir, "tenants", `${config.controlPlane}.sqlite`);
  if (!existsSync(cpFile)) {
    bad(`no control plane at ${cpFile}; is --data-dir right? (serve or tenants create makes one)`);
    out(`${problems} problem(s) found`);
    return problems;
  }
  try {
    withTenancy(config, ({ cp, registry, journal, lifecycle, dir }) => {
      good(`data directory ${dir} is writable and the control plane is migrated`);
      try {
        assertColumns(cp.db, REQUIRED_COLUMNS, cp.path);
        good("control-plane schema has every column tenantgate writes");
      } catch (err) {
        bad((err as Error).message);
      }
      const ids = cp.tenantIds().filter((id) => id !== cp.id);
      const progress = new Progress("checking tenant files", ids.length);
      let checked = 0;
      for (const id of ids) {
        const status = registry.status(id);
        if (status !== "ready") bad(`tenant ${id}: file is ${status}${status === "unreadable" ? ` (${registry.unreadableReason(id)})` : ""}`);
        else if (deep) {
          const result = integrityCheck(registry.pathOf(id));
          if (result !== "ok") bad(`tenant ${id}: integrity_check says ${result}`);
        }
        progress.tick(++checked);
      }
      good(`${ids.length} tenant(s) registered`);
      for (const id of registry.orphans()) bad(`file ${id}.sqlite is not registered on the control plane (adopt-files would register it)`);
      for (const name of readdirSync(dir)) {
        if (name.endsWith(".sqlite") && !isFileTenantId(name.slice(0, -7), cp.id)) bad(`file ${name} has a name that is not a valid tenant id; it is ignored`);
      }
      for (const op of journal.running()) bad(`operation ${op.id} (${op.kind} ${op.tenantId}) is unfinished; the next \`serve\` finishes or undoes it`);
      const trash = readdirSync(lifecycle.trashDir).length;
      good(`${trash} file(s) in the trash`);
    });
  } catch (err) {
    bad(`cannot open the data directory: ${(err as Error).message}`);
  }
  out(problems === 0 ? "no problems found" : `${problems} problem(s) found`);
  return problems;
}
