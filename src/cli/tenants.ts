import { ConfigError } from "../config/index.ts";
import { required, valueFlag, type Command } from "./command.ts";
import { withTenancy } from "./with-tenancy.ts";

/** `tenantgate tenants list | create [id] | delete <id>`, on the data directory directly. */
export const tenants: Command = {
  name: "tenants",
  usage: [
    "  tenantgate tenants list                         list tenants and their state",
    "  tenantgate tenants create [id] [--friendly-name N]",
    "  tenantgate tenants delete <id> [--purge]",
  ].join("\n"),
  flags: { "friendly-name": "value", purge: "switch" },
  verifiesTokens: false,
  async run(invocation) {
    const { config, out } = invocation;
    const sub = required(invocation, 0, "a tenants subcommand (list, create, delete)");
    if (sub === "list") {
      await withTenancy(config, ({ cp, registry }) => {
        const { tenants, total } = cp.listTenants({ page: 0, perPage: Number.MAX_SAFE_INTEGER });
        for (const row of tenants) out(`${row.id}\t${registry.status(row.id)}\t${registry.orgOfTenant(row.id) ?? "-"}\t${row.friendly_name ?? ""}`);
        out(`${total} tenant(s)`);
      });
    } else if (sub === "create") {
      const id = invocation.args[1];
      await withTenancy(config, async ({ lifecycle }) => {
        const created = await lifecycle.create({ id, friendly_name: valueFlag(invocation, "friendly-name") ?? id ?? "New tenant" });
        out(`created ${created.tenant.id} (organization ${created.organization_id}, operation ${created.operation_id})`);
      });
    } else if (sub === "delete") {
      const id = required(invocation, 1, "the tenant id");
      await withTenancy(config, ({ lifecycle }) => {
        const op = lifecycle.delete(id, { purge: invocation.flags.has("purge") });
        out(`deleted ${id} (operation ${op.id}: ${op.steps.map((s) => s.step).join(", ")})`);
      });
    } else throw new ConfigError(`unknown tenants subcommand "${sub}"`);
    return 0;
  },
};
