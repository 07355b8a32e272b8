import type { HostsConfig } from "../config/index.ts";
import { HttpError } from "../http-error.ts";
import type { TenantRegistry } from "./registry.ts";
import { normalizeHost, resolveHost, type HostTarget } from "./resolve-tenant.ts";
import { requestedHost, TrustedProxies } from "./trusted-proxies.ts";

export interface TargetRules {
  baseDomain: string;
  reserved: ReadonlySet<string>;
  controlPlane: string;
  trustedProxies: TrustedProxies;
  /** Off: every request is the control plane's, whatever its host. */
  routing: boolean;
}

export function targetRules(hosts: HostsConfig): TargetRules {
  return {
    baseDomain: hosts.baseDomain,
    reserved: new Set(hosts.reserved),
    controlPlane: hosts.controlPlane,
    trustedProxies: new TrustedProxies(hosts.trustedProxies),
    routing: hosts.routing,
  };
}

export interface RequestTarget {
  tenant: string;
  host: string;
  isControlPlane: boolean;
}

/** The host the request names, mapped to a tenant, or an error that says why it cannot be. */
export function hostTarget(headers: Headers, peer: string | undefined, rules: TargetRules, registry: TenantRegistry): Promise<HostTarget & { host: string }> {
  return targetOfHost(requestedHost(headers, peer, rules.trustedProxies), rules, registry);
}

/** `hostTarget` for a host the caller already knows (as the client sent it). */
async function targetOfHost(requested: string | null, rules: TargetRules, registry: TenantRegistry): Promise<HostTarget & { host: string }> {
  const host = normalizeHost(requested);
  if (!rules.routing) return { kind: "control-plane", host };
  const resolve = () => ({ ...resolveHost(host, { ...rules, customDomain: (h) => registry.cachedCustomDomain(h) }), host });
  await registry.refresh();
  const target = resolve();
  if (target.kind !== "unknown") return target;
  // A domain approved a moment ago: look at the control plane again before saying no one claims it.
  await registry.refresh("check");
  return resolve();
}

/**
 * Which tenant a request is for, refusing tenants that cannot serve: unknown (404), or whose file is
 * missing, unreadable or mid-lifecycle (503, for that tenant only).
 */
export function requestTarget(headers: Headers, peer: string | undefined, rules: TargetRules, registry: TenantRegistry): Promise<RequestTarget> {
  return requestTargetOfHost(requestedHost(headers, peer, rules.trustedProxies), rules, registry);
}

async function requestTargetOfHost(requested: string | null, rules: TargetRules, registry: TenantRegistry): Promise<RequestTarget> {
  const target = await targetOfHost(requested, rules, registry);
  if (target.kind === "control-plane") return { tenant: rules.controlPlane, host: target.host, isControlPlane: true };
  if (target.kind === "unknown") throw new HttpError(404, `host "${target.host}" is not a tenant of ${rules.baseDomain} and no tenant claims it as a custom domain`);
  const status = await registry.status(target.id);
  switch (status) {
    case "ready":
      return { tenant: target.id, host: target.host, isControlPlane: false };
    case "unknown":
      throw new HttpError(404, `tenant "${target.id}" does not exist`);
    case "missing":
      throw new HttpError(503, `tenant "${target.id}" is unavailable: its database file is missing`);
    case "unreadable":
      throw new HttpError(503, `tenant "${target.id}" is unavailable: its database file cannot be read`);
    case "provisioning":
      throw new HttpError(503, `tenant "${target.id}" is being provisioned; retry shortly`);
    case "deleting":
      throw new HttpError(503, `tenant "${target.id}" is being deleted`);
  }
}

/**
 * The tenant a Host header names when that tenant can serve now; null for anything `requestTarget`
 * would refuse (the full gateway then answers with the reason).
 */
export async function servingTenantOfHost(host: string, rules: TargetRules, registry: TenantRegistry): Promise<string | null> {
  try {
    return (await requestTargetOfHost(host, rules, registry)).tenant;
  } catch {
    return null;
  }
}
