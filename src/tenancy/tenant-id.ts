import { HttpError } from "../http-error.ts";

// A child tenant id is one DNS label: it becomes a subdomain and a file name, so nothing that could
// climb out of the data directory or confuse host matching (dots, slashes, upper case) gets through.
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function isTenantLabel(id: string): boolean {
  return DNS_LABEL.test(id);
}

/** Why `id` cannot name a child tenant, or null when it can. */
export function tenantIdProblem(id: unknown, reserved: ReadonlySet<string>, controlPlane: string): string | null {
  if (typeof id !== "string" || id.length === 0) return "tenant id is required";
  if (id.length > 63) return `tenant id is ${id.length} characters long; at most 63 are allowed`;
  if (id === controlPlane) return `"${id}" is the control plane's id`;
  if (!DNS_LABEL.test(id))
    return `tenant id "${printable(id)}" is not a DNS label: use a-z, 0-9 and inner hyphens only`;
  if (reserved.has(id)) return `tenant id "${id}" is reserved`;
  return null;
}

export function assertChildTenantId(id: unknown, reserved: ReadonlySet<string>, controlPlane: string): string {
  const problem = tenantIdProblem(id, reserved, controlPlane);
  if (problem) throw new HttpError(400, problem);
  return id as string;
}

/**
 * Any tenant id that may name a file: a child label or the control plane's own id (which may hold an
 * underscore, `control_plane`). Checked before a path is ever joined.
 */
export function isFileTenantId(id: string, controlPlane: string): boolean {
  return id === controlPlane || DNS_LABEL.test(id);
}

function printable(s: string): string {
  const cut = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  return cut.replace(/[\u0000-\u001f\u007f]/g, "?");
}
