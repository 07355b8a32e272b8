import { Elysia, t } from "elysia";
import { isIP } from "node:net";
import type { Principal } from "../auth/index.ts";
import { HttpError } from "../http-error.ts";
import type { ControlPlane, TenantRow } from "../storage/index.ts";
import { newDomainId } from "../tenancy/index.ts";
import type { Operation, OperationJournal } from "../tenancy/index.ts";
import { TENANT_SETTINGS, type TenantLifecycle } from "../tenancy/index.ts";
import type { TenantRegistry } from "../tenancy/index.ts";
import { normalizeHost } from "../tenancy/index.ts";
import { assertChildTenantId } from "../tenancy/index.ts";
import {
  CreateTenantBody,
  DeleteQuery,
  DomainSchema,
  errors,
  ListQuery,
  OperationSchema,
  TenantPageSchema,
  TenantSchema,
  UpdateTenantBody,
} from "./schemas.ts";
import { documentedBody, readJsonBody } from "./json-body.ts";
import { readQuery, type QueryReferences } from "./query.ts";
import { allowTenantAction, listableTenants, mayDecideTrust } from "./tenant-access.ts";

export interface TenantsApiDeps {
  cp: ControlPlane;
  registry: TenantRegistry;
  lifecycle: TenantLifecycle;
  journal: OperationJournal;
  reserved: ReadonlySet<string>;
  baseDomain: string;
  /** The verified principal of a request (401/503 when the token is missing or cannot be checked). */
  authenticate: (request: Request) => Promise<Principal>;
  /** Hands a request that is not the gateway's to AuthHero. */
  forward: (request: Request) => Promise<Response>;
}

/** The queries the tenants API reads (readQuery), for its OpenAPI document. */
export const tenantsApiQueries: QueryReferences = {
  "/api/v2/tenants": { get: { query: ListQuery } },
  "/api/v2/tenants/:id": { delete: { query: DeleteQuery } },
};

/**
 * The tenants API on the control-plane host, under /api/v2/tenants. `/api/v2/tenants/settings` is
 * AuthHero's own endpoint and is forwarded, never captured.
 */
export function tenantsApi(d: TenantsApiDeps) {
  const { cp, registry } = d;
  const present = (row: TenantRow) => ({ ...row, organization_id: registry.orgOfTenant(row.id) ?? null, status: registry.status(row.id) });
  const tenantOr404 = (id: string): TenantRow => {
    const row = id === cp.id ? undefined : cp.tenant(id);
    if (!row) throw new HttpError(404, `tenant "${id}" does not exist`);
    return row;
  };
  const isMember = (userId: string, tenantId: string) => cp.tenantsOfUser(userId).includes(tenantId);
  const tag = { detail: { tags: ["tenants"], security: [{ bearer: [] }] } };

  return new Elysia({ name: "tenantgate/tenants-api", prefix: "/api/v2/tenants" })
    .all("/settings", ({ request }) => d.forward(request), { parse: "none", detail: { hide: true } })
    .all("/settings/*", ({ request }) => d.forward(request), { parse: "none", detail: { hide: true } })
    // derive runs before body validation: an anonymous caller learns 401, not how to shape a body.
    .derive({ as: "local" }, async ({ request }) => ({ principal: await d.authenticate(request) }))
    .post(
      "",
      async ({ request, principal, set }) => {
        allowTenantAction(principal, "create", cp.id);
        const body = await readJsonBody(request, CreateTenantBody);
        if (body.id !== undefined) assertChildTenantId(body.id, d.reserved, cp.id);
        // As the seed's tenants API does: a tenant's tokens are for its own audience unless told otherwise.
        const audience = body.audience ?? (body.id !== undefined ? `urn:authhero:tenant:${body.id.toLowerCase()}` : undefined);
        const created = await d.lifecycle.create({ ...body, ...(audience === undefined ? {} : { audience }), creator: principal.isUser ? principal.subject : undefined });
        set.status = 201;
        return { ...present(created.tenant), operation_id: created.operation_id };
      },
      {
        parse: "none",
        response: { 201: TenantSchema, ...errors(400, 401, 403, 409, 415, 503) },
        detail: { ...tag.detail, ...documentedBody(CreateTenantBody), summary: "Provision a tenant: its file, its control-plane row and its organization" },
      },
    )
    .get(
      "",
      ({ request, principal }) => {
        const query = readQuery(request, ListQuery);
        const page = query.page ?? 0;
        const perPage = query.per_page ?? 50;
        const scope = listableTenants(principal, cp.id, (u) => cp.tenantsOfUser(u));
        const result = cp.listTenants({ q: query.q, page, perPage, only: scope === "all" ? undefined : scope });
        const tenants = result.tenants.map(present);
        // The seed's shapes: `{tenants}`, and with totals `{tenants, start, limit, length}`, where
        // `length` counts every tenant the token may see (the seed's counts only the page).
        return query.include_totals ? { tenants, start: page * perPage, limit: perPage, length: result.total, total: result.total } : { tenants };
      },
      {
        response: { 200: t.Union([TenantPageSchema, t.Object({ tenants: t.Array(TenantSchema) })]), ...errors(400, 401, 403, 503) },
        detail: { ...tag.detail, summary: "List the tenants this token may see" },
      },
    )
    .get(
      "/:id",
      ({ params, principal }) => {
        allowTenantAction(principal, "read", cp.id, params.id, isMember);
        return present(tenantOr404(params.id));
      },
      { response: { 200: TenantSchema, ...errors(401, 403, 404, 503) }, detail: { ...tag.detail, summary: "Get a tenant" } },
    )
    .patch(
      "/:id",
      async ({ params, request, principal }) => {
        allowTenantAction(principal, "update", cp.id, params.id);
        tenantOr404(params.id);
        const body = await readJsonBody(request, UpdateTenantBody);
        if (body.audience !== undefined && !mayDecideTrust(principal, cp.id))
          throw new HttpError(403, "a tenant's audience decides which tokens AuthHero and the gateway trust: only a control-plane admin (update:tenants, no organization) may change it");
        const set: Record<string, unknown> = { updated_at: new Date().toISOString() };
        for (const key of TENANT_SETTINGS) if (body[key] !== undefined) set[key] = body[key];
        cp.updateTenant(params.id, set);
        registry.refresh("reload");
        return present(tenantOr404(params.id));
      },
      {
        parse: "none",
        response: { 200: TenantSchema, ...errors(400, 401, 403, 404, 415, 503) },
        detail: { ...tag.detail, ...documentedBody(UpdateTenantBody), summary: "Update a tenant's settings" },
      },
    )
    .delete(
      "/:id",
      ({ params, request, principal, set }) => {
        if (params.id === cp.id) throw new HttpError(403, "the control plane can never be deleted");
        allowTenantAction(principal, "delete", cp.id, params.id);
        const query = readQuery(request, DeleteQuery);
        const op = d.lifecycle.delete(params.id, { purge: query.purge === true });
        // 204 as the seed's API answers; the operation's record is in the tenant's history.
        set.status = 204;
        set.headers["operation-id"] = op.id;
        set.headers.location = `/api/v2/tenants/${params.id}/operations`;
        return undefined;
      },
      {
        response: { 204: t.Undefined(), ...errors(400, 401, 403, 404, 409, 503) },
        detail: {
          ...tag.detail,
          summary: "Deprovision a tenant: remove its organization and memberships, move its file to the trash (or purge it)",
        },
      },
    )
    .get(
      "/:id/operations",
      ({ params, principal }) => {
        allowTenantAction(principal, "read", cp.id, params.id, isMember);
        const history = d.journal.history(params.id);
        if (history.length === 0 && !cp.tenant(params.id)) throw new HttpError(404, `tenant "${params.id}" has no history`);
        return history.map(presentOperation);
      },
      { response: { 200: t.Array(OperationSchema), ...errors(401, 403, 404, 503) }, detail: { ...tag.detail, summary: "Lifecycle history of a tenant" } },
    )
    .get(
      "/:id/domains",
      ({ params, principal }) => {
        allowTenantAction(principal, "read", cp.id, params.id, isMember);
        tenantOr404(params.id);
        return cp.domains(params.id);
      },
      { response: { 200: t.Array(DomainSchema), ...errors(401, 403, 404, 503) }, detail: { ...tag.detail, summary: "A tenant's custom domains" } },
    )
    .put(
      "/:id/domains/:domain",
      ({ params, principal, set }) => {
        allowTenantAction(principal, "update", cp.id, params.id);
        tenantOr404(params.id);
        const domain = customDomainOf(params.domain, d.baseDomain);
        const owner = cp.domain(domain);
        if (owner && owner.tenant_id !== params.id) {
          if (owner.status === "ready") throw new HttpError(409, `domain ${domain} already belongs to tenant "${owner.tenant_id}"`);
          throw new HttpError(409, `domain ${domain} is asked for by tenant "${owner.tenant_id}", pending approval; a control-plane admin may remove that request first (DELETE /api/v2/tenants/${owner.tenant_id}/domains/${domain})`);
        }
        // A tenant's admin asks; the control plane approves (the same PUT): a name routed on a
        // tenant admin's word alone would let any tenant take any unclaimed host.
        const approves = mayDecideTrust(principal, cp.id);
        if (!owner) cp.insertDomain({ custom_domain_id: newDomainId(), tenant_id: params.id, domain, status: approves ? "ready" : "pending_verification" });
        else if (owner.status !== "ready" && approves) cp.approveDomain(params.id, domain);
        registry.refresh("reload");
        const row = cp.domain(domain) as NonNullable<ReturnType<typeof cp.domain>>;
        if (row.status !== "ready") set.status = 202;
        return row;
      },
      {
        parse: "none",
        response: { 200: DomainSchema, 202: DomainSchema, ...errors(400, 401, 403, 404, 409, 503) },
        detail: {
          ...tag.detail,
          summary: "Map a custom domain to a tenant (idempotent)",
          description:
            "A control-plane admin's PUT maps the domain at once (200, status ready) and approves one a tenant asked for. A tenant's own admin asks for it: 202, status pending_verification, not routed until a control-plane admin approves it with the same PUT.",
        },
      },
    )
    .delete(
      "/:id/domains/:domain",
      ({ params, principal }) => {
        allowTenantAction(principal, "update", cp.id, params.id);
        tenantOr404(params.id);
        const domain = customDomainOf(params.domain, d.baseDomain);
        if (!cp.deleteDomain(params.id, domain)) throw new HttpError(404, `tenant "${params.id}" has no domain ${domain}`);
        registry.refresh("reload");
        return { deleted: domain };
      },
      {
        response: { 200: t.Object({ deleted: t.String() }), ...errors(400, 401, 403, 404, 503) },
        detail: { ...tag.detail, summary: "Remove a custom domain" },
      },
    );
}

function customDomainOf(raw: string, baseDomain: string): string {
  let domain: string;
  try {
    domain = normalizeHost(decodeURIComponent(raw));
  } catch {
    throw new HttpError(400, `"${raw}" is not a valid domain name`);
  }
  if (domain.startsWith("[") || isIP(domain) !== 0 || endsInNumber(domain))
    throw new HttpError(400, `"${domain}" is an IP address; a custom domain is a DNS name the tenant's users reach it by`);
  if (!domain.includes(".")) throw new HttpError(400, `"${domain}" is not a fully qualified domain name`);
  if (domain === baseDomain || domain.endsWith(`.${baseDomain}`))
    throw new HttpError(400, `${domain} is under the base domain ${baseDomain}; subdomains route by themselves`);
  return domain;
}

/** A host whose last label is a number is an IPv4 address to a URL parser (`1.2.3.0x4`, `127.1`). */
function endsInNumber(host: string): boolean {
  const last = host.split(".").filter((l) => l !== "").at(-1) ?? "";
  return /^(\d+|0x[0-9a-f]*)$/i.test(last);
}

function presentOperation(op: Operation) {
  return {
    id: op.id,
    tenant_id: op.tenantId,
    kind: op.kind,
    state: op.state,
    steps: op.steps,
    error: op.error,
    started_at: op.startedAt,
    finished_at: op.finishedAt,
  };
}
