import type { Config } from "../config/index.ts";
import { createLogger } from "../log.ts";
import { openRelay, type OutboxRelay } from "../sync/index.ts";
import { closeTenancy, openTenancy, type Tenancy } from "../tenancy/index.ts";

/**
 * The data directory with its outbox relay (not started): tenants made here are seeded like the server's.
 * An asynchronous `fn` keeps it open until its promise settles.
 */
export function withTenancy<T>(config: Pick<Config, "tenancy" | "sync">, fn: (t: Tenancy & { relay: OutboxRelay }) => T): T {
  const log = createLogger("warn", process.stderr as never);
  const tenancy = openTenancy(config.tenancy, log);
  let result: T;
  try {
    result = fn({ ...tenancy, relay: openRelay(tenancy, config.sync, log) });
  } catch (err) {
    closeTenancy(tenancy);
    throw err;
  }
  if (result instanceof Promise) return result.finally(() => closeTenancy(tenancy)) as T;
  closeTenancy(tenancy);
  return result;
}
