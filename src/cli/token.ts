import { loadDevKey, signDevToken } from "../auth/index.ts";
import type { Config } from "../config/index.ts";
import { valueFlag, type Command } from "./command.ts";
import { withTenancy } from "./with-tenancy.ts";

const DEFAULT_DEV_PERMISSIONS = ["create:tenants", "read:tenants", "update:tenants", "delete:tenants"];

/**
 * `tenantgate token`: prints a token the gateway trusts in --dev mode. It needs no --dev and no
 * issuer itself: only a gateway decides whether to believe it.
 */
export const token: Command = {
  name: "token",
  usage: "  tenantgate token [--org T | --tenant T] [--sub S] [--permissions a,b]\n                                                  print a dev token (the gateway trusts it with --dev)",
  flags: { org: "value", tenant: "value", sub: "value", permissions: "value" },
  verifiesTokens: false,
  async run(invocation) {
    const permissions = valueFlag(invocation, "permissions")
      ?.split(",")
      .map((p) => p.trim())
      .filter(Boolean);
    const opts = { org: valueFlag(invocation, "org"), tenant: valueFlag(invocation, "tenant"), sub: valueFlag(invocation, "sub"), permissions: permissions ?? DEFAULT_DEV_PERMISSIONS };
    invocation.out(await devToken(invocation.config, opts));
    return 0;
  },
};

/** A dev token shaped as AuthHero issues them: for an organization's tenant (`org`), or for a tenant. */
export async function devToken(config: Pick<Config, "tokens" | "tenancy" | "sync">, opts: { org?: string; tenant?: string; sub?: string; permissions?: string[] }): Promise<string> {
  const { controlPlane, audience, dataDir } = config.tokens;
  const claims: Parameters<typeof signDevToken>[1] = { sub: opts.sub, permissions: opts.permissions };
  if (opts.org) {
    const org = await withTenancy(config, (t) => t.cp.organizationOf(opts.org as string));
    if (!org) throw new Error(`tenant "${opts.org}" has no organization on the control plane (create the tenant first)`);
    Object.assign(claims, { org_id: org.id, org_name: opts.org, tenant_id: controlPlane });
  } else {
    claims.tenant_id = opts.tenant ?? controlPlane;
  }
  return signDevToken(await loadDevKey(dataDir), claims, { audience });
}
