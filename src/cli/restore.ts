import type { Config } from "../config/index.ts";
import { required, type Command, type Out } from "./command.ts";
import { withTenancy } from "./with-tenancy.ts";
import type { RestoreOptions } from "../tenancy/index.ts";

/** `tenantgate restore <id> <file> [--from-other-deployment]`. */
export const restore: Command = {
  name: "restore",
  usage: "  tenantgate restore <id> <file> [--from-other-deployment]\n                                                  put a backup in place (the current file goes to the trash)",
  flags: { "from-other-deployment": "switch" },
  verifiesTokens: false,
  async run(invocation) {
    const opts = { fromOtherDeployment: invocation.flags.has("from-other-deployment") };
    await restoreTenant(invocation.config, required(invocation, 0, "the tenant id"), required(invocation, 1, "the backup file"), invocation.out, opts);
    return 0;
  },
};

/**
 * Puts a checked backup in place of the tenant's file (the current one goes to the trash), its
 * synced copies made the control plane's, and lists the tenant again if the control plane does not
 * (the lifecycle's journaled restore).
 */
export async function restoreTenant(config: Pick<Config, "tenancy" | "sync">, id: string, file: string, out: Out, opts: RestoreOptions = {}): Promise<void> {
  await withTenancy(config, async ({ lifecycle, relay }) => {
    const op = await lifecycle.restore(id, file, opts);
    const trashed = op.steps.find((s) => s.step === "trashed")?.outcome;
    if (trashed && trashed !== "no current file") out(`moved the current file to ${trashed}`);
    // The relay's remembered cursor was the old file's; the restored one's is read from it.
    await relay.fileReplaced(id);
    out(`restored ${id} from ${op.input.backup}`);
    const repaired = op.steps.find((s) => s.step === "staged")?.outcome;
    if (repaired) out(repaired);
  });
}
