import { HttpError } from "../http-error.ts";
import type { Principal } from "./principal.ts";

/**
 * Refuses (403) unless the principal may manage `tenant` and holds one of the required permissions.
 * Messages name the token's tenant, the requested one, and the token to ask for instead.
 */
export function authorize(p: Principal, tenant: string, opts?: { permission?: string | string[] }): void {
  if (p.tenant !== tenant) throw new HttpError(403, `${tokenSide(p)} but ${requestSide(p, tenant)}`);

  const required = opts?.permission;
  if (required === undefined) return;
  const anyOf = typeof required === "string" ? [required] : required;
  // An empty list is a bug at the call site; failing closed beats letting everyone in.
  if (anyOf.length === 0) throw new Error("authorize: permission list is empty");
  if (anyOf.some((perm) => p.permissions.has(perm))) return;
  throw new HttpError(
    403,
    anyOf.length === 1 ? `token lacks permission ${anyOf[0]}` : `token lacks permission ${anyOf.join(" or ")}`,
  );
}

function tokenSide(p: Principal): string {
  switch (p.via) {
    case "control-plane":
      return `token is for the control plane ("${p.tenant}")`;
    case "organization":
      return p.orgId !== undefined
        ? `token is for tenant "${p.tenant}" (organization ${p.orgId})`
        : `token is for tenant "${p.tenant}" (organization named ${p.orgName ?? "?"})`;
    case "tenant":
      return `token is for tenant "${p.tenant}" (issued by that tenant)`;
  }
}

function requestSide(p: Principal, tenant: string): string {
  const controlPlane = p.controlPlane ?? (p.via === "control-plane" ? p.tenant : undefined);
  if (tenant === controlPlane) {
    return p.via === "tenant"
      ? "this request is for the control plane; request a token from the control plane without an organization"
      : "this request is for the control plane; request a token without an organization";
  }
  return `this request is for tenant "${tenant}"; request a token with organization=${tenant}`;
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 7235). */
export function bearerToken(authorization: string | null | undefined): string {
  if (authorization === null || authorization === undefined || authorization.trim() === "") {
    throw new HttpError(401, "missing bearer token");
  }
  const match = /^Bearer +(\S+) *$/i.exec(authorization);
  if (!match?.[1]) throw new HttpError(401, "authorization header must be `Bearer <token>`");
  return match[1];
}
