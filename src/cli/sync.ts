import { ConfigError, type Config } from "../config/index.ts";
import { required, type Command, type Out } from "./command.ts";
import { Progress } from "./progress.ts";
import { withTenancy } from "./with-tenancy.ts";

/** `tenantgate sync status | reconcile <id> | --all`: the outbox relay, run from the command line. */
export const sync: Command = {
  name: "sync",
  usage: [
    "  tenantgate sync status                          outbox head, and each tenant's cursor, lag and errors",
    "  tenantgate sync reconcile <id> | --all          compare synced copies with the control plane and repair",
  ].join("\n"),
  flags: { all: "switch" },
  verifiesTokens: false,
  async run(invocation) {
    const { config, out } = invocation;
    const sub = required(invocation, 0, "a sync subcommand (status, reconcile)");
    if (sub === "status") return (await syncStatus(config, out)) === 0 ? 0 : 1;
    if (sub === "reconcile") return (await reconcile(config, invocation.args[1], invocation.flags.has("all"), out)) === 0 ? 0 : 1;
    throw new ConfigError(`unknown sync subcommand "${sub}"`);
  },
};

/** The outbox head and every tenant's cursor, lag and last error; the number of tenants failing or unavailable. */
function syncStatus(config: Pick<Config, "tenancy" | "sync">, out: Out): Promise<number> {
  return withTenancy(config, async ({ relay, registry, cp }) => {
    // The files' own cursors, not the mirror the gateway last wrote: this is what AuthHero reads.
    await relay.verifyAll();
    const summary = await relay.summary();
    out(`head ${summary.head}: ${summary.in_sync} in sync, ${summary.lagging} lagging, ${summary.failing} failing, ${summary.unavailable} unavailable`);
    for (const id of (await registry.tenantIds()).filter((t) => t !== cp.id).sort()) {
      const s = await relay.status(id);
      out(`${id}\t${s.state}\tcursor ${s.cursor ?? "-"}\tlag ${s.lag ?? "-"}\tconflicts ${s.conflict_list.length}${s.last_error ? `\t${s.last_error}` : ""}`);
    }
    return summary.failing + summary.unavailable;
  });
}

/** Compares and repairs one tenant's synced copies, or every tenant's (with progress); the number that failed. */
function reconcile(config: Pick<Config, "tenancy" | "sync">, id: string | undefined, all: boolean, out: Out): Promise<number> {
  return withTenancy(config, async ({ relay, registry, cp }) => {
    const ids = all ? (await registry.tenantIds()).filter((t) => t !== cp.id).sort() : id ? [id] : [];
    if (ids.length === 0) throw new Error("name a tenant or pass --all");
    if (!all && (id === cp.id || !(await cp.tenant(id as string)))) throw new Error(`tenant "${id}" does not exist`);
    const progress = new Progress("reconciling", ids.length);
    let failed = 0;
    let changed = 0;
    for (const [i, tenant] of ids.entries()) {
      try {
        const result = await relay.reconcile(tenant);
        changed += result.changed;
        if (!all) out(`${tenant}: ${result.changed} copies repaired, ${result.conflicts} conflicts, cursor ${result.cursor}`);
      } catch (err) {
        failed++;
        out(`${tenant}: ${(err as Error).message}`);
      }
      progress.tick(i + 1);
    }
    if (all) out(`${ids.length - failed} of ${ids.length} tenants reconciled; ${changed} copies repaired`);
    return failed;
  });
}
