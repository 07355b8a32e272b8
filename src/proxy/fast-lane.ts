import { authorize, type Principal } from "../auth/index.ts";
import type { Forward } from "../front/front-door.ts";
import type { PlainRequest } from "../front/request-head.ts";
import type { TenantRegistry } from "../tenancy/registry.ts";
import { targetOfHost, type TargetRules } from "../tenancy/request-target.ts";
import { prefixSegments } from "./management-path.ts";

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
  // A plain path has no escapes, dot or empty segments (request-head.ts), so its one reading is the
  // path itself: a management path is one that is, in lower case, a prefix or starts with it and "/".
  const prefixes = o.managementPaths.map((p) => `/${prefixSegments(p).join("/")}`);
  const below = prefixes.map((p) => (p === "/" ? p : `${p}/`));
  const isManagement = (path: string) => {
    const lower = path.toLowerCase();
    for (let i = 0; i < prefixes.length; i++) if (lower === prefixes[i] || lower.startsWith(below[i] as string)) return true;
    return false;
  };
  const tenants = new TenantOfHost(o.rules, o.registry);
  return (request, peer) => {
    if (o.ownedByGateway(request.path)) return undefined;
    if (o.rules.trustedProxies.trusts(peer)) return undefined;
    const bodiless = request.method === "GET" || request.method === "HEAD";
    if (request.contentLength > o.maxBodyBytes || (bodiless && request.contentLength > 0)) return undefined;
    const tenant = tenants.ready(request.host);
    if (tenant === undefined) return undefined;
    const forward = (): Forward => ({ tenant, requestId: o.requestId(request.requestId) });
    if (!isManagement(request.path)) return forward();
    // Management writes go through the synced-entity guard and CORS preflights carry no token: both
    // are the full gateway's.
    if (!bodiless) return undefined;
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
}

/** Hosts seen lately at most; beyond it the memo starts over (a flood of made-up hosts stays cheap). */
const HOSTS_KEPT = 1024;

/**
 * The tenant a Host header names, when that tenant can serve: the host's reading memoized for the
 * registry's generation (custom domains move only with it), the tenant's status asked every time
 * (a file can go missing at any moment). Anything else (unknown, malformed, unavailable) is undefined.
 */
class TenantOfHost {
  private generation = -1;
  private readonly hosts = new Map<string, string | null>();

  constructor(
    private readonly rules: TargetRules,
    private readonly registry: TenantRegistry,
  ) {}

  ready(host: string): string | undefined {
    const generation = this.registry.generation();
    if (generation !== this.generation || this.hosts.size >= HOSTS_KEPT) {
      this.hosts.clear();
      this.generation = generation;
    }
    let tenant = this.hosts.get(host);
    if (tenant === undefined) {
      tenant = this.read(host);
      this.hosts.set(host, tenant);
    }
    if (tenant === null) return undefined;
    return tenant === this.rules.controlPlane || this.registry.status(tenant) === "ready" ? tenant : undefined;
  }

  private read(host: string): string | null {
    try {
      const target = targetOfHost(host, this.rules, this.registry);
      if (target.kind === "control-plane") return this.rules.controlPlane;
      return target.kind === "tenant" ? target.id : null;
    } catch {
      return null; // malformed: the full gateway answers 400
    }
  }
}
