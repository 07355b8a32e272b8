import pino from "pino";
import { loadConfig } from "../../src/config/index.ts";
import { openRelay } from "../../src/sync/index.ts";
import { closeTenancy, openTenancy } from "../../src/tenancy/index.ts";

/**
 * Child tenants made in-process over a data dir, seeded from the outbox snapshot as the server seeds
 * them, then closed again (one CLI process per tenant would take minutes for hundreds of tenants).
 */
export async function provisionOffline(dir: string, ids: readonly string[], argv: string[] = []): Promise<void> {
  const log = pino({ level: "silent" });
  const { config } = loadConfig({ argv: ["--dev", "--data-dir", dir, ...argv], env: {} });
  const t = openTenancy(config, log);
  try {
    await openRelay(t, config, log);
    for (const id of ids) await t.lifecycle.create({ id, friendly_name: id });
  } finally {
    closeTenancy(t);
  }
}
