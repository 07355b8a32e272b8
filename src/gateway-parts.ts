import { GatewayMetrics } from "./api/index.ts";
import { verifierFor, type TokenVerifier } from "./auth/index.ts";
import type { Config } from "./config/index.ts";
import type { Logger } from "./log.ts";
import { BodyBudget, prepareBodyTempDir, type BodyBuffering } from "./proxy/index.ts";
import { openRelay, type OutboxRelay } from "./sync/index.ts";
import { closeTenancy, openTenancy, type Tenancy } from "./tenancy/index.ts";
import { DataDirWatch, PeriodicRescan, type TenantWatch } from "./tenancy/index.ts";

/** What a serving gateway is made of: the tenancy, the token check, the outbox relay, the data-directory watch, the metrics, where request bodies wait. */
export interface GatewayParts extends Tenancy {
  verifier: TokenVerifier;
  metrics: GatewayMetrics;
  relay: OutboxRelay;
  watch: TenantWatch;
  /** The main thread's view; the front door's thread shares the budget's memory. */
  bodies: BodyBuffering;
}

/**
 * Builds the parts over the data directory. The serving process alone recovers interrupted lifecycle
 * operations, and does so here, before anything is served.
 */
export async function openGatewayParts(config: Config, log: Logger): Promise<GatewayParts> {
  const { bodyBufferBytes, bodyBufferTotalBytes, bodyTempDir } = config.bodies;
  const { swept } = prepareBodyTempDir(bodyTempDir);
  if (swept > 0) log.info({ swept, dir: bodyTempDir }, "removed request bodies' temporary files left by processes that are gone");
  const bodies: BodyBuffering = { memoryBytes: bodyBufferBytes, budget: new BodyBudget(bodyBufferTotalBytes), tempDir: bodyTempDir };
  const tenancy = await openTenancy(config.tenancy, log);
  const { dir, files, registry, lifecycle } = tenancy;
  const recovered = await lifecycle.recover();
  if (recovered.finished.length + recovered.undone.length > 0) log.warn(recovered, "finished or undid interrupted tenant operations");
  if (recovered.live.length > 0) log.info(recovered, "operations of live processes left to them");
  await lifecycle.sweepTrash();

  const verifier = await verifierFor(config.tokens, (host) => registry.cachedCustomDomain(host));
  const metrics = new GatewayMetrics(registry, files?.pool);
  const relay = await openRelay(tenancy, config.sync, log, metrics.relayObserver(), { serving: true });
  const rescanMs = config.watch.rescanSeconds * 1000;
  const watch: TenantWatch = files
    ? new DataDirWatch({
        dir,
        registry,
        lifecycle,
        pool: files.pool,
        adoptFiles: config.watch.adoptFiles,
        rescanMs,
        log,
        onReplaced: (id) => relay.fileReplaced(id),
        onRescan: () => relay.recheckFiles(),
      })
    : new PeriodicRescan({ registry, lifecycle, rescanMs, log, onRescan: () => relay.recheckFiles() });
  metrics.watchRelay(relay);
  metrics.watchTokens(verifier);
  return { ...tenancy, verifier, metrics, relay, watch, bodies };
}

/** Starts the parts that work on their own: the watch and the relay. */
export async function startGatewayParts(p: GatewayParts): Promise<void> {
  p.watch.start();
  await p.relay.start();
}

export async function closeGatewayParts(p: GatewayParts): Promise<void> {
  await p.watch.stop();
  await p.relay.stop();
  closeTenancy(p);
}
