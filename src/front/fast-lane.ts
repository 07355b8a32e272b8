import { authorize } from "../auth/access.ts";
import type { Principal } from "../auth/index.ts";
import type { Forward } from "./door-contract.ts";
import type { PlainRequest } from "./request-head.ts";
import { ownedByGateway } from "../gateway-paths.ts";
import { requestIdOf } from "../request-id.ts";
import type { TrustedProxies } from "../tenancy/trusted-proxies.ts";
import { belowPrefixes, pathReadings, prefixSegments } from "../proxy/management-path.ts";
import { controlPlaneCollection } from "../proxy/policy.ts";

type Maybe<T> = T | Promise<T>;

export interface FastLaneOptions {
  managementPaths: readonly string[];
  accessControl: boolean;
  maxBodyBytes: number;
  trustedProxies: TrustedProxies;
  /** The tenant a Host header names when it can serve now; undefined for anything else. */
  tenantOf: (host: string) => Maybe<string | undefined>;
  /** The token's principal: at once for a hot token, else after verification (a rejection for a bad one). */
  principal: (authorization: string | null) => Maybe<Principal>;
}

export type FastLane = (request: PlainRequest, peer: string) => Maybe<Forward | undefined>;

/**
 * Which plain requests the front door may forward without the full gateway: the same rules as
 * `createProxy`, for the cases where they pass. Everything they would refuse or treat specially (an
 * unknown tenant, a token that fails, a write to a management path, a trusted proxy's forwarded
 * headers, a body over the limit) answers undefined, and the full gateway handles the request.
 */
export function createFastLane(o: FastLaneOptions): FastLane {
  // A plain path has no escapes, dot or empty segments (request-head.ts), so its one reading is the
  // path itself: a management path is one that is, in lower case, a prefix or starts with it and "/".
  const prefixSegmentLists = o.managementPaths.map(prefixSegments);
  const prefixes = prefixSegmentLists.map((p) => `/${p.join("/")}`);
  const below = prefixes.map((p) => (p === "/" ? p : `${p}/`));
  const isManagement = (path: string) => {
    const lower = path.toLowerCase();
    for (let i = 0; i < prefixes.length; i++) if (lower === prefixes[i] || lower.startsWith(below[i] as string)) return true;
    return false;
  };

  const forTenant = (request: PlainRequest, tenant: string | undefined): Maybe<Forward | undefined> => {
    if (tenant === undefined) return undefined;
    const forward = (): Forward => ({ tenant, requestId: requestIdOf(request.requestId) });
    if (!isManagement(request.path)) return forward();
    // The control plane's own collections are refused on a child tenant's host by the full gateway
    // (it knows which host is the control plane's); they are rare, so all of them go there.
    if (controlPlaneCollection(belowPrefixes(pathReadings(request.path), prefixSegmentLists))) return undefined;
    // Management writes go through the synced-entity guard and CORS preflights carry no token: both
    // are the full gateway's.
    if (request.method !== "GET" && request.method !== "HEAD") return undefined;
    if (!o.accessControl) return forward();
    const allowed = (principal: Principal): Forward | undefined => {
      try {
        authorize(principal, tenant);
      } catch {
        return undefined;
      }
      return forward();
    };
    const principal = o.principal(request.authorization);
    return principal instanceof Promise ? principal.then(allowed, () => undefined) : allowed(principal);
  };

  return (request, peer) => {
    if (ownedByGateway(request.path)) return undefined;
    if (o.trustedProxies.trusts(peer)) return undefined;
    const bodiless = request.method === "GET" || request.method === "HEAD";
    if (request.contentLength > o.maxBodyBytes || (bodiless && request.contentLength > 0)) return undefined;
    const tenant = o.tenantOf(request.host);
    return tenant instanceof Promise ? tenant.then((t) => forTenant(request, t)) : forTenant(request, tenant);
  };
}
