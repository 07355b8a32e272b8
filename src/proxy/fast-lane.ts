import { authorize, type Principal } from "../auth/index.ts";
import type { Forward } from "../front/front-door.ts";
import type { PlainRequest } from "../front/request-head.ts";
import type { TenantRegistry } from "../tenancy/registry.ts";
import { requestTargetOfHost, type TargetRules } from "../tenancy/request-target.ts";
import { matchesPrefix, pathReadings, prefixSegments } from "./management-path.ts";

export interface FastLaneOptions {
  rules: TargetRules;
  registry: TenantRegistry;
  managementPaths: readonly string[];
  accessControl: boolean;
  maxBodyBytes: number;
  /** Paths the gateway answers itself (its API, docs, health, metrics). */
  ownedByGateway: (path: string) => boolean;
  /** The token's principal: at once for a hot token, else after verification. */
  principal: (authorization: string | null) => Principal | Promise<Principal>;
  requestId: (sent: string | null) => string;
}

export type FastLane = (request: PlainRequest, peer: string) => Forward | undefined | Promise<Forward | undefined>;

/**
 * Which plain requests the front door may forward without the full gateway: the same rules as
 * `createProxy`, for the cases where they pass. Everything they would refuse or treat specially (an
 * unknown tenant, a token that fails, a write to a management path, a trusted proxy's forwarded
 * headers, a body over the limit) answers undefined, and the full gateway handles the request.
 */
export function createFastLane(o: FastLaneOptions): FastLane {
  const prefixes = o.managementPaths.map(prefixSegments);
  return (request, peer) => {
    if (o.ownedByGateway(request.path)) return undefined;
    if (o.rules.trustedProxies.trusts(peer)) return undefined;
    const bodiless = request.method === "GET" || request.method === "HEAD";
    if (request.contentLength > o.maxBodyBytes || (bodiless && request.contentLength > 0)) return undefined;
    let tenant: string;
    try {
      tenant = requestTargetOfHost(request.host, o.rules, o.registry).tenant;
    } catch {
      return undefined;
    }
    const management = matchesPrefix(pathReadings(request.path), prefixes);
    if (!management) return { tenant, requestId: o.requestId(request.requestId) };
    // Management writes go through the synced-entity guard and CORS preflights carry no token: both
    // are the full gateway's.
    if (!bodiless) return undefined;
    if (!o.accessControl) return { tenant, requestId: o.requestId(request.requestId) };
    const allowed = (principal: Principal): Forward | undefined => {
      try {
        authorize(principal, tenant);
      } catch {
        return undefined;
      }
      return { tenant, requestId: o.requestId(request.requestId) };
    };
    const principal = o.principal(request.authorization);
    return principal instanceof Promise ? principal.then(allowed, () => undefined) : allowed(principal);
  };
}
