import type { Config } from "../config/index.ts";
import { required, type Command, type Out } from "./command.ts";
import { withTenancy } from "./with-tenancy.ts";

/** `tenantgate backup <id> <file>`. */
export const backup: Command = {
  name: "backup",
  usage: "  tenantgate backup <id> <file>                   consistent snapshot of a tenant file",
  flags: {},
  verifiesTokens: false,
  async run(invocation) {
    await backUp(invocation.config, required(invocation, 0, "the tenant id"), required(invocation, 1, "the backup file"), invocation.out);
    return 0;
  },
};

/** A checked snapshot of the tenant's file (the lifecycle's journaled backup; see tenancy/backups.ts). */
export function backUp(config: Pick<Config, "tenancy" | "sync">, id: string, file: string, out: Out): Promise<void> {
  return withTenancy(config, ({ lifecycle }) => {
    const op = lifecycle.backup(id, file);
    out(`backed up ${id} to ${op.input.target} (${op.steps.find((s) => s.step === "checked")?.outcome}, integrity ok)`);
  });
}
