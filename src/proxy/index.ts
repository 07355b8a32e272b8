import type { Principal } from "../auth/index.ts";
import { authorize } from "../auth/access.ts";
import { HttpError } from "../http-error.ts";
import type { TenantRegistry } from "../tenancy/index.ts";
import { requestTarget, type TargetRules } from "../tenancy/index.ts";
import { requestedHost } from "../tenancy/trusted-proxies.ts";
import { forwardToUpstream } from "./forward.ts";
import { assertJsonDepth } from "../bounded-json.ts";
import type { BodyBuffer, BodyBuffering } from "./body-buffer.ts";
import { bodyForwarded, CHECKED_BODY_BYTES, controlPlaneCollection, controlPlaneCollectionRefusal, declaresBody, forwardingFailure, isPreflight, METHOD_OVERRIDES, type UpstreamOptions } from "./policy.ts";
import { readBody } from "./read-body.ts";
import { belowPrefixes, matchesPrefix, pathReadings, prefixSegments } from "./management-path.ts";
import { SyncedEntityGuard } from "./protect-synced.ts";

export { SyncedEntityGuard } from "./protect-synced.ts";
export { cameFromUpstream, forwardToUpstream } from "./forward.ts";
export { checkMethod, isPreflight, upstreamOptions, type UpstreamOptions } from "./policy.ts";
export { BodyBudget } from "./body-budget.ts";
export type { BodyBuffering } from "./body-buffer.ts";
export { prepareBodyTempDir } from "./body-temp-dir.ts";
export { pathReadings } from "./management-path.ts";

export interface ProxyOptions {
  rules: TargetRules;
  registry: TenantRegistry;
  upstream: UpstreamOptions;
  guard: SyncedEntityGuard;
  authenticate: (request: Request) => Promise<Principal>;
  /** The TCP peer of a request (for X-Forwarded-For and trusted proxies). */
  peer: (request: Request) => string | undefined;
  managementPaths: readonly string[];
  accessControl: boolean;
  protection: boolean;
  maxBodyBytes: number;
  /** Where request bodies are held until whole. */
  bodies: BodyBuffering;
}

/**
 * Everything the gateway does not answer itself: resolve the tenant, enforce the body limit, check
 * the token on management paths, refuse writes to synced copies in child tenants, read the body
 * whole, then forward.
 */
export function createProxy(o: ProxyOptions): (request: Request, url?: URL) => Promise<Response> {
  const prefixes = o.managementPaths.map(prefixSegments);
  return async (request, parsed) => {
    const peer = o.peer(request);
    const target = await requestTarget(request.headers, peer, o.rules, o.registry);
    const length = Number(request.headers.get("content-length") ?? 0);
    if (length > o.maxBodyBytes) throw new HttpError(...forwardingFailure.declaredTooLarge(length, o.maxBodyBytes));

    const url = parsed ?? new URL(request.url);
    const method = request.method.toUpperCase();
    const readings = pathReadings(url.pathname);
    const management = matchesPrefix(readings, prefixes);
    // A CORS preflight carries no credentials; AuthHero answers it and the real request is checked.
    const preflight = isPreflight(method, request.headers);
    const below = management ? belowPrefixes(readings, prefixes) : [];
    if (o.accessControl && management && !preflight) {
      authorize(await o.authenticate(request), target.tenant);
      const owned = target.isControlPlane ? undefined : controlPlaneCollection(below);
      if (owned) throw new HttpError(...controlPlaneCollectionRefusal(owned, target.tenant));
    }

    // Read once, by the guard if it must look at it, else before forwarding; let go of however the request ends.
    let body: BodyBuffer | undefined;
    const read = async () => (body ??= await readBody(request, o.bodies, o.maxBodyBytes, o.upstream.timeoutMs));
    try {
      const methods = o.protection && management && !target.isControlPlane ? requestedMethods(method, request.headers, url.searchParams) : undefined;
      // Reads (the bulk of management traffic) cannot change a synced copy: no guard work for them.
      if (methods && [...methods].some((m) => m !== "GET" && m !== "HEAD" && m !== "OPTIONS")) {
        await o.guard.check(target.tenant, {
          methods,
          readings: below,
          body: async () => {
            // The guard parses this body itself: at most CHECKED_BODY_BYTES of it, not the
            // forwarding limit, and no deeper than the gateway parses any JSON.
            if (length > CHECKED_BODY_BYTES) throw new HttpError(...forwardingFailure.checkedTooLarge(length, CHECKED_BODY_BYTES));
            const held = await read();
            if (held.size > CHECKED_BODY_BYTES) throw new HttpError(...forwardingFailure.checkedTooLarge(held.size, CHECKED_BODY_BYTES));
            const text = new TextDecoder().decode(await held.whole());
            assertJsonDepth(text);
            try {
              return JSON.parse(text);
            } catch {
              return undefined; // AuthHero refuses it; the same engine's JSON.parse read nothing here
            }
          },
        });
      }
      if (bodyForwarded(method, preflight) && request.body && declaresBody(request.headers)) await read();
      return await forwardToUpstream(request, url, target.tenant, peer, o.upstream, {
        method,
        body,
        forwarded: forwardedBy(request.headers, peer, o.rules),
        preflight,
      });
    } finally {
      (body as BodyBuffer | undefined)?.dispose();
    }
  };
}

/** The request's own method and every override a server might honour instead. */
function requestedMethods(method: string, headers: Headers, query: URLSearchParams): Set<string> {
  const methods = new Set([method]);
  for (const h of METHOD_OVERRIDES) {
    const v = headers.get(h);
    if (v) methods.add(v.trim().toUpperCase());
  }
  const q = query.get("_method");
  if (q) methods.add(q.trim().toUpperCase());
  return methods;
}

/** What a trusted proxy says about the client (X-Forwarded-Host/Proto/For); nothing from anyone else. */
function forwardedBy(headers: Headers, peer: string | undefined, rules: TargetRules): { host?: string; proto?: string; for?: string } {
  if (!rules.trustedProxies.trusts(peer)) return {};
  const proto = headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  return {
    host: requestedHost(headers, peer, rules.trustedProxies) ?? undefined,
    proto: proto === "http" || proto === "https" ? proto : undefined,
    for: headers.get("x-forwarded-for")?.trim() || undefined,
  };
}
export { MAX_HEAD_BYTES, RESPONSE_DROPPED, UNTYPED_BODY, forwardingFailure, requestHeaderFate, upstreamHostHeader, upstreamRequestTarget } from "./policy.ts";
