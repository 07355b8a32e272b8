import type { JWTPayload } from "jose";
import { HttpError } from "../http-error.ts";

/** Maps a control-plane organization id to the child tenant it stands for. */
export interface OrgDirectory {
  tenantOfOrg(orgId: string): Promise<string | undefined> | string | undefined;
}

export interface Principal {
  subject: string;
  /** The one tenant this token may manage. */
  tenant: string;
  via: "control-plane" | "organization" | "tenant";
  orgId?: string;
  /** Set when the tenant came from a trusted org_name claim. */
  orgName?: string;
  /** The control plane's id this principal was read against, so denials can name it as such. */
  controlPlane?: string;
  permissions: ReadonlySet<string>;
  isUser: boolean;
  claims: JWTPayload;
}

export interface PrincipalContext {
  controlPlane: string;
  orgs: OrgDirectory;
  /** org_name is only as trustworthy as the tenant's allow_organization_name setting: opt-in. */
  trustOrgName: boolean;
  /** A token from a tenant's own issuer speaks for that tenant only. */
  issuers?: { bind(iss: unknown, tenant: string): void };
}

/** Who a verified token speaks for: the tenant rule of the design (point 3). */
export async function principalOf(claims: JWTPayload, ctx: PrincipalContext): Promise<Principal> {
  const principal = await speaksFor(claims, ctx);
  ctx.issuers?.bind(claims.iss, principal.tenant);
  return principal;
}

async function speaksFor(claims: JWTPayload, ctx: PrincipalContext): Promise<Principal> {
  const subject = requiredString(claims, "sub");
  const tenantId = optionalString(claims, "tenant_id");
  const orgId = optionalString(claims, "org_id");
  const orgName = optionalString(claims, "org_name");
  const common = {
    subject,
    controlPlane: ctx.controlPlane,
    permissions: permissionsOf(claims),
    // AuthHero user ids are `<provider>|<id>`; client-credentials subjects are client ids.
    isUser: subject.includes("|") && claims.gty !== "client-credentials",
    claims,
  };

  // A child tenant's own token: its org claims name organizations inside that tenant, not ours.
  if (tenantId !== undefined && tenantId !== ctx.controlPlane) {
    return { ...common, tenant: tenantId, via: "tenant" };
  }
  if (orgId !== undefined) {
    const tenant = await ctx.orgs.tenantOfOrg(orgId);
    if (tenant === undefined) {
      throw new HttpError(403, `token's organization ${orgId} does not belong to any tenant`);
    }
    return { ...common, tenant, via: "organization", orgId };
  }
  if (orgName !== undefined) {
    // A token meant for an organization must never fall through to the control plane.
    if (!ctx.trustOrgName)
      throw new HttpError(403, `token names organization "${orgName}" by org_name only, which this gateway does not trust; request a token with organization=${orgName} so that it carries org_id`);
    return { ...common, tenant: orgName, via: "organization", orgName };
  }
  return { ...common, tenant: ctx.controlPlane, via: "control-plane" };
}

function permissionsOf(claims: JWTPayload): ReadonlySet<string> {
  const permissions = new Set<string>();
  const list = claims.permissions;
  if (list !== undefined) {
    if (!Array.isArray(list) || !list.every((p): p is string => typeof p === "string")) {
      throw new HttpError(401, "token claim permissions must be an array of strings");
    }
    for (const p of list) if (p !== "") permissions.add(p);
  }
  const scope = optionalString(claims, "scope", { allowEmpty: true });
  for (const s of scope?.split(/\s+/) ?? []) if (s !== "") permissions.add(s);
  return permissions;
}

function requiredString(claims: JWTPayload, name: string): string {
  const value = optionalString(claims, name);
  if (value === undefined) throw new HttpError(401, `token claim ${name} is missing`);
  return value;
}

function optionalString(claims: JWTPayload, name: string, opts?: { allowEmpty: boolean }): string | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new HttpError(401, `token claim ${name} must be a string`);
  // An empty id would name no tenant yet slip past "is it present" checks.
  if (value === "" && !opts?.allowEmpty) throw new HttpError(401, `token claim ${name} must not be empty`);
  return value;
}
