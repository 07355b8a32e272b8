import { GatewayMetrics } from "./api/index.ts";
import { verifierFor, type TokenVerifier } from "./auth/index.ts";
import type { Config } from "./config/index.ts";
import type { Logger } from "./log.ts";
import { openRelay, type OutboxRelay } from "./sync/index.ts";
import { closeTenancy, openTenancy, type Tenancy } from "./tenancy/index.ts";
import { DataDirWatch } from "./tenancy/index.ts";

/** What a serving gateway is made of: the tenancy, the token check, the outbox relay, the data-directory watch, the metrics. */
export interface GatewayParts extends Tenancy {
  verifier: TokenVerifier;
  metrics: GatewayMetrics;
  relay: OutboxRelay;
  watch: DataDirWatch;
}

/**
 * Builds the parts over the data directory. The serving process alone recovers interrupted lifecycle
 * operations, and does so here, before anything is served.
 */
export async function openGatewayParts(config: Config, log: Logger): Promise<GatewayParts> {
  const tenancy = openTenancy(config.tenancy, log);
  const { dir, pool, registry, lifecycle } = tenancy;
  const recovered = lifecycle.recover();
  if (recovered.finished.length + recovered.undone.length > 0) log.warn(recovered, "finished or undid interrupted tenant operations");
  if (recovered.live.length > 0) log.info(recovered, "operations of live processes left to them");
  lifecycle.sweepTrash();

  const verifier = await verifierFor(config.tokens, (host) => registry.customDomain(host));
  const metrics = new GatewayMetrics(registry, pool);
  const relay = openRelay(tenancy, config.sync, log, metrics.relayObserver());
  const watch = new DataDirWatch({
    dir,
    registry,
    lifecycle,
    pool,
    adoptFiles: config.watch.adoptFiles,
    rescanMs: config.watch.rescanSeconds * 1000,
    log,
    onReplaced: (id) => relay.fileReplaced(id),
    onRescan: () => relay.recheckFiles(),
  });
  metrics.watchRelay(relay);
  metrics.watchTokens(verifier);
  return { ...tenancy, verifier, metrics, relay, watch };
}

/** Starts the parts that work on their own: the watch and the relay. */
export function startGatewayParts(p: GatewayParts): void {
  p.watch.start();
  p.relay.start();
}

export async function closeGatewayParts(p: GatewayParts): Promise<void> {
  await p.watch.stop();
  await p.relay.stop();
  closeTenancy(p);
}
