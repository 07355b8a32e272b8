import type { Config } from "../config/index.ts";
import { createLogger } from "../log.ts";
import { openRelay, type OutboxRelay } from "../sync/index.ts";
import { closeTenancy, openTenancy, type Tenancy } from "../tenancy/index.ts";

/** The data directory with its outbox relay (not started): tenants made here are seeded like the server's. */
export async function withTenancy<T>(config: Pick<Config, "tenancy" | "sync">, fn: (t: Tenancy & { relay: OutboxRelay }) => T | Promise<T>): Promise<T> {
  const log = createLogger("warn", process.stderr as never);
  const tenancy = await openTenancy(config.tenancy, log);
  try {
    return await fn({ ...tenancy, relay: await openRelay(tenancy, config.sync, log) });
  } finally {
    closeTenancy(tenancy);
  }
}
