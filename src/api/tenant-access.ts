import { authorize, type Principal } from "../auth/index.ts";
import { HttpError } from "../http-error.ts";

export type TenantAction = "create" | "read" | "update" | "delete";

const PERMISSION: Record<TenantAction, string> = {
  create: "create:tenants",
  read: "read:tenants",
  update: "update:tenants",
  delete: "delete:tenants",
};
/** The reference package's catch-all permission; still honoured for every tenant action. */
const ADMIN = "admin:organizations";

function permitted(p: Principal, action: TenantAction): boolean {
  return p.permissions.has(PERMISSION[action]) || p.permissions.has(ADMIN);
}

function isControlPlaneAdmin(p: Principal, controlPlane: string): boolean {
  return p.via === "control-plane" && p.tenant === controlPlane;
}

/**
 * Who may do what through the tenants API. Creating and deleting tenants takes a control-plane
 * token without an organization; reading and updating a tenant is also open to that tenant's own
 * tokens (organization or tenant-issued) and, for reads, to members of its organization.
 */
export function allowTenantAction(
  p: Principal,
  action: TenantAction,
  controlPlane: string,
  tenantId?: string,
  isMember?: (userId: string, tenantId: string) => boolean,
): void {
  const admin = isControlPlaneAdmin(p, controlPlane);
  if (action === "create" || action === "delete") {
    if (!admin) authorize(p, controlPlane);
    if (!permitted(p, action)) throw new HttpError(403, `token lacks permission ${PERMISSION[action]} (or ${ADMIN})`);
    return;
  }
  if (tenantId === undefined) throw new Error("allowTenantAction: read and update name a tenant");
  if (admin && permitted(p, action)) return;
  if (action === "read" && admin && p.isUser && isMember?.(p.subject, tenantId)) return;
  authorize(p, tenantId, { permission: [PERMISSION[action], ADMIN] });
}

/**
 * What only the control plane may decide for a tenant, because it changes whom the gateway and
 * AuthHero trust: routing a custom domain to it, and its audience. A control-plane token without an
 * organization, holding update:tenants (or the catch-all).
 */
export function mayDecideTrust(p: Principal, controlPlane: string): boolean {
  return isControlPlaneAdmin(p, controlPlane) && permitted(p, "update");
}

/** Which tenants a token may list: all of them, or an explicit list. */
export function listableTenants(p: Principal, controlPlane: string, memberTenants: (userId: string) => string[]): "all" | string[] {
  if (isControlPlaneAdmin(p, controlPlane)) {
    if (permitted(p, "read")) return "all";
    if (p.isUser) return memberTenants(p.subject);
    throw new HttpError(403, `token lacks permission ${PERMISSION.read} (or ${ADMIN})`);
  }
  if (!permitted(p, "read")) throw new HttpError(403, `token lacks permission ${PERMISSION.read} (or ${ADMIN})`);
  return [p.tenant];
}

/** Views across every tenant (the sync overview): a control-plane token with read:tenants. */
export function allowOverview(p: Principal, controlPlane: string): void {
  if (!isControlPlaneAdmin(p, controlPlane)) authorize(p, controlPlane);
  if (!permitted(p, "read")) throw new HttpError(403, `token lacks permission ${PERMISSION.read} (or ${ADMIN})`);
}
