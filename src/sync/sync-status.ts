import type { TenantRegistry } from "../tenancy/index.ts";
import type { TenantSync } from "./tenant-sync.ts";

/** One tenant's sync, as the sync API and `tenantgate sync` report it. */
export interface TenantSyncStatus {
  tenant_id: string;
  cursor: number | null;
  head: number;
  lag: number | null;
  state: "in_sync" | "lagging" | "failing" | "unavailable";
  attempts: number;
  last_error: string | null;
  last_error_at: string | null;
  next_attempt_at: string | null;
  conflicts: number;
}

/** Every tenant's sync at once, as the sync API, the metrics and `tenantgate sync` report it. */
export interface SyncSummary {
  head: number;
  tenants: number;
  in_sync: number;
  lagging: number;
  failing: number;
  unavailable: number;
  oldest_lag_events: number;
  oldest_lag_seconds: number;
}

/**
 * One tenant's status from what the relay knows of it. `target` is the sync head (organization
 * events after the last synced change are not owed); `verified`: `cursor` is the file's own, and a
 * cursor only remembered never counts as in sync.
 */
export function describeSync(
  tenantId: string,
  s: TenantSync,
  registry: Pick<TenantRegistry, "cachedStatus" | "unreadableReason">,
  at: { head: number; target: number },
  cursor: number | undefined,
  verified: boolean,
): TenantSyncStatus {
  const status = registry.cachedStatus(tenantId);
  // A cursor past the head counts another outbox's events: it says nothing of this one's (the relay
  // reconciles such a file in full), so none is reported.
  const position = cursor !== undefined && cursor <= at.head ? cursor : undefined;
  const caughtUp = verified && position !== undefined && position >= at.target && !s.needsReconcile;
  const state = status !== "ready" ? "unavailable" : s.lastError ? "failing" : caughtUp ? "in_sync" : "lagging";
  return {
    tenant_id: tenantId,
    cursor: position ?? null,
    head: at.head,
    // Events to apply; organization events after the last synced change are not owed.
    lag: position === undefined ? null : caughtUp ? 0 : Math.max(0, at.head - position),
    state,
    attempts: s.attempts,
    last_error: s.lastError ?? (status !== "ready" ? `tenant file is ${status}${status === "unreadable" ? `: ${registry.unreadableReason(tenantId) ?? "not a database"}` : ""}` : null),
    last_error_at: s.lastErrorAt,
    next_attempt_at: s.nextAttemptAt ? new Date(s.nextAttemptAt).toISOString() : null,
    conflicts: s.conflicts,
  };
}
