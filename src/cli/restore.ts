import type { Config } from "../config/index.ts";
import { required, type Command, type Out } from "./command.ts";
import { withTenancy } from "./with-tenancy.ts";

/** `tenantgate restore <id> <file>`. */
export const restore: Command = {
  name: "restore",
  usage: "  tenantgate restore <id> <file>                  put a backup in place (the current file goes to the trash)",
  flags: {},
  verifiesTokens: false,
  run(invocation) {
    restoreTenant(invocation.config, required(invocation, 0, "the tenant id"), required(invocation, 1, "the backup file"), invocation.out);
    return 0;
  },
};

/**
 * Puts a checked backup in place of the tenant's file (the current one goes to the trash) and lists
 * the tenant again if the control plane does not (the lifecycle's journaled restore).
 */
export function restoreTenant(config: Pick<Config, "tenancy" | "sync">, id: string, file: string, out: Out): void {
  withTenancy(config, ({ lifecycle, relay }) => {
    const op = lifecycle.restore(id, file);
    const trashed = op.steps.find((s) => s.step === "trashed")?.outcome;
    if (trashed && trashed !== "no current file") out(`moved the current file to ${trashed}`);
    // The relay's remembered cursor was the old file's; the restored one catches up from its own.
    relay.fileReplaced(id);
    out(`restored ${id} from ${op.input.backup}`);
  });
}
