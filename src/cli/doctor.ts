import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/index.ts";
import { REQUIRED_COLUMNS } from "../storage/index.ts";
import { assertColumnsIn } from "../storage/files.ts";
import { handleBudget, openFileLimit, SqldAdmin } from "../storage/index.ts";
import { tenantsDir } from "../tenancy/index.ts";
import { isFileTenantId } from "../tenancy/index.ts";
import type { Command, Out } from "./command.ts";
import { integrityCheck } from "../tenancy/index.ts";
import { Progress } from "./progress.ts";
import { withTenancy } from "./with-tenancy.ts";

/** `tenantgate doctor [--deep]`: checks the data directory; exit 1 when it found a problem. */
export const doctor: Command = {
  name: "doctor",
  usage: "  tenantgate doctor [--deep]                      check the data directory (--deep: integrity of every file)",
  flags: { deep: "switch" },
  verifiesTokens: false,
  async run({ config, flags, out }) {
    return (await checkDataDir(config, flags.has("deep"), out)) === 0 ? 0 : 1;
  },
};

/** Checks the data directory and prints what is wrong. Returns the problem count. */
export async function checkDataDir(config: Pick<Config, "tenancy" | "sync">, deep: boolean, out: Out): Promise<number> {
  let problems = 0;
  const bad = (msg: string) => {
    problems++;
    out(`✗ ${msg}`);
  };
  const good = (msg: string) => out(`✓ ${msg}`);
  const limit = openFileLimit();
  const budget = config.tenancy.maxOpenFiles || handleBudget(limit);
  if (limit < 1024) bad(`open-file limit is ${limit}; raise ulimit -n (at least 1024, ideally 65536)`);
  else good(`open-file limit ${limit}; up to ${budget} tenant files open at once`);
  // A check must not create what it checks: a mistyped --data-dir (or --database-url) would otherwise come out "healthy".
  const missing = await missingControlPlane(config);
  if (missing) {
    bad(missing);
    out(`${problems} problem(s) found`);
    return problems;
  }
  try {
    await withTenancy(config, async ({ cp, registry, journal, files, store, dir }) => {
      good(files ? `data directory ${dir} is writable and the control plane is migrated` : `the control plane (${cp.path}) is migrated`);
      try {
        await assertColumnsIn(cp.sql, REQUIRED_COLUMNS, cp.path);
        good("control-plane schema has every column tenantgate writes");
      } catch (err) {
        bad((err as Error).message);
      }
      const ids = (await cp.tenantIds()).filter((id) => id !== cp.id);
      const progress = new Progress("checking tenant files", ids.length);
      let checked = 0;
      for (const id of ids) {
        if (files) {
          const status = await registry.status(id);
          if (status !== "ready") bad(`tenant ${id}: file is ${status}${status === "unreadable" ? ` (${registry.unreadableReason(id)})` : ""}`);
          else if (deep) {
            const result = integrityCheck(files.pathOf(id));
            if (result !== "ok") bad(`tenant ${id}: integrity_check says ${result}`);
          }
        } else {
          // A namespace is only known by asking the server for it.
          const result = await store
            .use(id, async (db) => (deep ? (await db.all<{ integrity_check: string }>("PRAGMA integrity_check")).map((r) => r.integrity_check).join("; ") : (await db.get("SELECT count(*) AS n FROM sqlite_master"), "ok")))
            .catch((err: Error) => err.message);
          if (result !== "ok") bad(`tenant ${id}: namespace ${deep ? "integrity_check says" : "cannot be read:"} ${result}`);
        }
        progress.tick(++checked);
      }
      good(`${ids.length} tenant(s) registered`);
      for (const id of await registry.orphans()) bad(`file ${id}.sqlite is not registered on the control plane (adopt-files would register it)`);
      if (files)
        for (const name of readdirSync(dir)) {
          if (name.endsWith(".sqlite") && !isFileTenantId(name.slice(0, -7), cp.id)) bad(`file ${name} has a name that is not a valid tenant id; it is ignored`);
        }
      for (const op of await journal.running()) bad(`operation ${op.id} (${op.kind} ${op.tenantId}) is unfinished; the next \`serve\` finishes or undoes it`);
      if (files) good(`${readdirSync(files.trashDir).length} file(s) in the trash`);
    });
  } catch (err) {
    bad(`cannot open the data directory: ${(err as Error).message}`);
  }
  out(problems === 0 ? "no problems found" : `${problems} problem(s) found`);
  return problems;
}

/** What is wrong when there is no control plane where the configuration points, or undefined. */
async function missingControlPlane(config: Pick<Config, "tenancy">): Promise<string | undefined> {
  const { databaseUrl, databaseAdminUrl, controlPlane } = config.tenancy;
  if (databaseUrl) {
    const there = await new SqldAdmin(databaseAdminUrl).exists(controlPlane).catch((err: Error) => err);
    if (there instanceof Error) return `cannot ask the libSQL server's admin API at ${databaseAdminUrl} about namespace "${controlPlane}": ${there.message}; is --database-admin-url right?`;
    return there ? undefined : `no control-plane namespace "${controlPlane}" on ${databaseUrl}; is --database-url right? (serve or tenants create makes one)`;
  }
  const cpFile = join(tenantsDir(config.tenancy), `${controlPlane}.sqlite`);
  return existsSync(cpFile) ? undefined : `no control plane at ${cpFile}; is --data-dir right? (serve or tenants create makes one)`;
}
