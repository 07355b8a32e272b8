import { HttpError } from "../http-error.ts";
import { isTenantLabel } from "./tenant-id.ts";

export type HostTarget =
  | { kind: "control-plane" }
  | { kind: "tenant"; id: string; via: "subdomain" | "custom-domain" }
  | { kind: "unknown"; host: string };

export interface HostRules {
  baseDomain: string;
  reserved: ReadonlySet<string>;
  /** The tenant a custom domain belongs to, if any. */
  customDomain: (host: string) => string | undefined;
}

// Letters, digits, hyphens and dots; or an IPv6 literal in brackets. Anything else in a Host header
// (spaces, slashes, userinfo, unicode) is malformed rather than merely unknown.
const HOSTNAME = /^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])$/;

/** `Acme.Auth.Example.com.:8443` → `acme.auth.example.com`. Throws 400 on a malformed host. */
export function normalizeHost(raw: string | null | undefined): string {
  if (!raw) throw new HttpError(400, "the request has no Host header");
  let host = raw.trim().toLowerCase();
  const port = host.startsWith("[") ? /^(\[[^\]]*\])(?::(\d*))?$/.exec(host) : /^([^:]*)(?::(\d*))?$/.exec(host);
  if (!port) throw new HttpError(400, `malformed Host header "${printable(raw)}"`);
  host = port[1] ?? "";
  if (port[2] !== undefined && (port[2] === "" || Number(port[2]) > 65535))
    throw new HttpError(400, `malformed port in Host header "${printable(raw)}"`);
  if (host.endsWith(".")) host = host.slice(0, -1);
  if (host.length === 0 || host.length > 253 || !HOSTNAME.test(host))
    throw new HttpError(400, `malformed Host header "${printable(raw)}"`);
  return host;
}

/**
 * Which tenant a host names. The apex and reserved labels are the control plane; `<label>.<base>`
 * with exactly one label is that tenant; otherwise the custom-domain map decides.
 */
export function resolveHost(host: string, rules: HostRules): HostTarget {
  const base = rules.baseDomain;
  if (host === base) return { kind: "control-plane" };
  if (host.endsWith(`.${base}`)) {
    const label = host.slice(0, host.length - base.length - 1);
    if (!label.includes(".")) {
      if (rules.reserved.has(label)) return { kind: "control-plane" };
      if (isTenantLabel(label)) return { kind: "tenant", id: label, via: "subdomain" };
    }
  }
  const owner = rules.customDomain(host);
  if (owner !== undefined) return { kind: "tenant", id: owner, via: "custom-domain" };
  return { kind: "unknown", host };
}

function printable(s: string): string {
  return (s.length > 100 ? `${s.slice(0, 100)}…` : s).replace(/[^\x20-\x7e]/g, "?");
}
