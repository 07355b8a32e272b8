import { Elysia, t } from "elysia";
import type { Principal } from "../auth/index.ts";
import { HttpError } from "../http-error.ts";
import type { ControlPlane } from "../storage/index.ts";
import type { OutboxRelay } from "../sync/index.ts";
import { errors } from "./schemas.ts";
import { allowOverview, allowTenantAction } from "./tenant-access.ts";

const SyncSummary = t.Object({
  head: t.Integer({ description: "newest outbox seq" }),
  tenants: t.Integer(),
  in_sync: t.Integer(),
  lagging: t.Integer(),
  failing: t.Integer(),
  unavailable: t.Integer({ description: "tenants whose file is missing or unreadable" }),
  oldest_lag_events: t.Integer({ description: "how far the most lagging tenant is behind, in events" }),
  oldest_lag_seconds: t.Number({ description: "age of the oldest event some tenant has not applied" }),
  relay: t.Union(
    [
      t.Object({
        holder: t.String({ description: "the gateway process running the outbox relay (host, pid, start)" }),
        expires_at: t.String({ description: "when its lease lapses unless renewed; another gateway takes it over then" }),
        granted_at: t.String(),
        this_gateway: t.Boolean({ description: "whether the gateway answering is the holder" }),
      }),
      t.Null(),
    ],
    { description: "which of the gateways sharing this control plane runs the relay; null before any has" },
  ),
});

const TenantSync = t.Object({
  tenant_id: t.String(),
  cursor: t.Union([t.Integer(), t.Null()], { description: "the last outbox event the file holds, never past head; null when unknown (a file whose cursor counts another outbox's events is reconciled in full)" }),
  head: t.Integer(),
  lag: t.Union([t.Integer(), t.Null()]),
  state: t.String({ description: "in_sync, lagging, failing or unavailable" }),
  attempts: t.Integer({ description: "failed attempts in a row" }),
  last_error: t.Union([t.String(), t.Null()]),
  last_error_at: t.Union([t.String(), t.Null()]),
  next_attempt_at: t.Union([t.String(), t.Null()]),
  conflicts: t.Array(
    t.Object({
      entity: t.String(),
      entity_id: t.String({ description: "the control-plane entity that could not be copied" }),
      key_value: t.String({ description: "the identifier or name both share" }),
      tenant_entity_id: t.String({ description: "the tenant's own entity holding it" }),
      detected_at: t.String(),
    }),
  ),
});

const Reconciled = t.Object({
  tenant_id: t.String(),
  cursor: t.Integer(),
  changed: t.Integer({ description: "copies written or removed because they differed from the control plane" }),
  conflicts: t.Integer(),
});

export interface SyncApiDeps {
  cp: ControlPlane;
  relay: OutboxRelay;
  authenticate: (request: Request) => Promise<Principal>;
}

/** Sync status and repair on the control-plane host: the outbox relay, seen from outside. */
export function syncApi(d: SyncApiDeps) {
  const { cp, relay } = d;
  const existing = async (id: string) => {
    if (id === cp.id || !(await cp.tenant(id))) throw new HttpError(404, `tenant "${id}" does not exist`);
  };
  const detail = (summary: string) => ({ tags: ["sync"], summary, security: [{ bearer: [] }] });
  return new Elysia({ name: "tenantgate/sync-api" })
    .derive({ as: "local" }, async ({ request }) => ({ principal: await d.authenticate(request) }))
    .get(
      "/api/v2/sync",
      async ({ principal }) => {
        allowOverview(principal, cp.id);
        const [summary, holder] = await Promise.all([relay.summary(), relay.holder()]);
        return { ...summary, relay: holder ?? null };
      },
      { response: { 200: SyncSummary, ...errors(401, 403, 503) }, detail: detail("Outbox head and how many tenants are in sync, lagging or failing") },
    )
    .get(
      "/api/v2/tenants/:id/sync",
      async ({ params, principal }) => {
        allowTenantAction(principal, "read", cp.id, params.id);
        await existing(params.id);
        const { conflict_list, conflicts: _count, ...status } = await relay.status(params.id);
        return { ...status, conflicts: conflict_list };
      },
      { response: { 200: TenantSync, ...errors(401, 403, 404, 503) }, detail: detail("One tenant's cursor, lag, failures and conflicts") },
    )
    .post(
      "/api/v2/tenants/:id/sync",
      async ({ params, principal }) => {
        allowTenantAction(principal, "update", cp.id, params.id);
        await existing(params.id);
        try {
          return { tenant_id: params.id, ...(await relay.reconcile(params.id)) };
        } catch (err) {
          throw new HttpError(503, `tenant "${params.id}" could not be reconciled: ${(err as Error).message}`);
        }
      },
      {
        parse: "none",
        response: { 200: Reconciled, ...errors(401, 403, 404, 503) },
        detail: detail("Reconcile one tenant now: compare every synced entity with the control plane and repair drift"),
      },
    );
}
