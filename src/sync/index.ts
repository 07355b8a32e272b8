import type { SyncConfig } from "../config/index.ts";
import type { Logger } from "../log.ts";
import type { Tenancy } from "../tenancy/index.ts";
import { parseFilter, type SyncRules } from "./entities.ts";
import { SYNCED_ENTITIES, type EntityKind } from "../synced-entities.ts";
import { OutboxRelay, type RelayObserver } from "./relay.ts";
import { RelayLease } from "./relay-lease.ts";
import { Lease } from "../storage/index.ts";
import { currentOwner, isDeadHere } from "../tenancy/index.ts";

export { OutboxRelay, type RelayObserver } from "./relay.ts";
export type { FailureReason } from "./relay.ts";
export type { SyncSummary, TenantSyncStatus } from "./sync-status.ts";
export type { RelayHolder } from "./relay-lease.ts";
export { applyStates, cursorOf, conflictsOf, type Conflict } from "./apply.ts";
export { ensureTriggers, TRIGGER_COUNT } from "./triggers.ts";
export type { SyncRules } from "./entities.ts";
export type { EntityKind } from "../synced-entities.ts";

export function syncRules(config: SyncConfig): SyncRules {
  return {
    controlPlane: config.controlPlane,
    enabled: Object.fromEntries(SYNCED_ENTITIES.map((e) => [e.kind, config[e.syncSwitch.key]])) as Record<EntityKind, boolean>,
    filter: parseFilter(config.syncFilter),
    secretKeys: config.syncSecretKeys,
  };
}

/**
 * The outbox relay over a data directory, with its capture triggers installed and new tenant files
 * seeded from it. Not started: `serve` starts the loop; CLI commands call it themselves.
 */
export async function openRelay(
  tenancy: Tenancy,
  config: SyncConfig,
  log: Logger,
  observer?: RelayObserver,
  opts: { serving?: boolean; onLease?: (held: boolean) => void } = {},
): Promise<OutboxRelay> {
  const relay = new OutboxRelay({
    cp: tenancy.cp,
    commits: tenancy.commits,
    store: tenancy.store,
    registry: tenancy.registry,
    rules: syncRules(config),
    log,
    pollMs: config.syncPollSeconds * 1000,
    retentionMs: config.outboxRetentionHours * 3_600_000,
    observer,
    workers: config.syncWorkers,
    lease: opts.serving
      ? new RelayLease(
          new Lease(tenancy.cp.sql, "outbox-relay", JSON.stringify(currentOwner()), config.syncLeaseSeconds * 1000, (holder) => isDeadHere(holder)),
          log,
          () => relay.wake(),
          opts.onLease,
        )
      : undefined,
  });
  await relay.prepare();
  tenancy.lifecycle.seedWith(relay.seed);
  return relay;
}
