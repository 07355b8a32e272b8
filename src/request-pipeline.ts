import { Elysia } from "elysia";
import { errorHandling } from "./api/index.ts";
import { docs } from "./api/index.ts";
import { operationsApi } from "./api/index.ts";
import type { GatewayMetrics } from "./api/index.ts";
import { tenantsApi, tenantsApiQueries } from "./api/index.ts";
import { syncApi } from "./api/index.ts";
import { effectiveSettingsApi } from "./api/index.ts";
import { controlPlaneGate } from "./api/index.ts";
import { ManagementCors } from "./api/index.ts";
import { bearerToken, principalOf, type Principal, type TokenVerifier } from "./auth/index.ts";
import type { Config } from "./config/index.ts";
import { errorToResponse } from "./error-response.ts";
import type { TokenAnswer } from "./front/index.ts";
import type { Finished } from "./front/index.ts";
import type { GatewayParts } from "./gateway-parts.ts";
import { ownedByGateway, routeClass } from "./gateway-paths.ts";
import { HttpError } from "./http-error.ts";
import type { Logger } from "./log.ts";
import { cameFromUpstream, checkMethod, createProxy, isPreflight, SyncedEntityGuard, upstreamOptions, type UpstreamOptions } from "./proxy/index.ts";
import { requestIdOf } from "./request-id.ts";
import { hostTarget, targetRules, tenancyWriteProblem, type TargetRules } from "./tenancy/index.ts";
import type { TenantRegistry } from "./tenancy/index.ts";
import { normalizeHost } from "./tenancy/index.ts";
import pkg from "../package.json" with { type: "json" };

/**
 * The request path of one gateway: request id, peer and access log around the Elysia app (the
 * gateway's own API) and the proxy (everything AuthHero answers), with the token check both share
 * and the CORS of the gateway's own answers. The HTTP server and the front door hand it requests.
 */
export class RequestPipeline {
  readonly app;
  readonly rules: TargetRules;
  readonly upstream: UpstreamOptions;
  /** The per-request line is logged at info; below that, its fields are not even gathered. */
  readonly accessLog: boolean;
  private readonly peers = new WeakMap<Request, string | undefined>();
  private readonly proxy: (request: Request, url?: URL) => Promise<Response>;
  private readonly cors: ManagementCors;
  private readonly registry: TenantRegistry;
  private readonly verifier: TokenVerifier;
  private readonly metrics: GatewayMetrics;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    parts: GatewayParts,
  ) {
    const { cp, store, registry, journal, lifecycle, relay, metrics } = parts;
    this.registry = registry;
    this.verifier = parts.verifier;
    this.metrics = metrics;
    const rules = (this.rules = targetRules(config.hosts));
    const upstream = (this.upstream = upstreamOptions(config.forwarding));
    const peer = (request: Request) => this.peers.get(request);
    const proxy = (this.proxy = createProxy({
      rules,
      registry,
      upstream,
      guard: new SyncedEntityGuard(store),
      authenticate: (request) => this.authenticate(request),
      peer,
      ...config.proxy,
      bodies: parts.bodies,
    }));

    this.accessLog = log.isLevelEnabled("info");
    this.cors = new ManagementCors(config.api.allowedOrigins, (id, read) => (id === cp.id ? read(cp.sql) : store.use(id, read)));

    // normalize: false makes `additionalProperties: false` refuse unknown fields (400) instead of
    // silently dropping them; Elysia reads it from the root instance only.
    this.app = new Elysia({ name: "tenantgate", normalize: false })
      .use(errorHandling(log))
      .use(operationsApi(cp, metrics, () => tenancyWriteProblem(parts)))
      .use(
        controlPlaneGate({
          prefixes: ["/api/v2/tenants", "/api/v2/sync"],
          onControlPlaneHost: async (request) => (await hostTarget(request.headers, peer(request), rules, registry)).kind === "control-plane",
          forward: proxy,
          maxBodyBytes: 64 * 1024,
        }),
      )
      .use(docs(pkg.version, tenantsApiQueries))
      .use(
        tenantsApi({
          cp,
          registry,
          lifecycle,
          journal,
          reserved: rules.reserved,
          baseDomain: config.api.baseDomain,
          authenticate: (request) => this.authenticate(request),
          forward: proxy,
        }),
      )
      .use(syncApi({ cp, relay, authenticate: (request) => this.authenticate(request) }))
      .use(effectiveSettingsApi({ cp, store, secretKeys: config.api.syncSecretKeys, authenticate: (request) => this.authenticate(request) }))
      .all("/", ({ request }) => proxy(request), { parse: "none", detail: { hide: true } })
      .all("/*", ({ request }) => proxy(request), { parse: "none", detail: { hide: true } });
  }

  async authenticate(request: Request): Promise<Principal> {
    return (await this.tokenAnswer(request.headers.get("authorization"))).principal;
  }

  /** The principal of an Authorization header and when its token expires, verifying the token unless it is hot. */
  async tokenAnswer(authorization: string | null): Promise<TokenAnswer> {
    const token = bearerToken(authorization);
    // A hot client's principal is reused while its token is unexpired and the registry (which maps
    // its organization to a tenant) has not changed: the verify-and-derive path is the largest cost
    // of a management request after forwarding (bench/proxy.ts). It is kept on the verifier's entry
    // for the token, so each token is known once, by its digest (auth/token-cache.ts).
    const generation = this.registry.generation();
    const known = this.verifier.tokens.get(token);
    if (known?.speaksFor?.generation === generation) return { principal: known.speaksFor.principal, expiresAtMs: known.expiresAtMs };
    const claims = await this.verifier.verify(token);
    const { controlPlane, trustOrgName } = this.config.tokens;
    const principal = await principalOf(claims, { controlPlane, orgs: this.registry, trustOrgName, issuers: this.verifier.issuers });
    const verified = known ?? this.verifier.tokens.get(token);
    if (verified) verified.speaksFor = { principal, generation };
    return { principal, expiresAtMs: (claims.exp as number) * 1000 };
  }

  /** Answers one request: request id, peer address, access log and metrics around the Elysia app. */
  async handle(request: Request, peer?: string): Promise<Response> {
    const started = performance.now();
    const id = requestIdOf(request.headers.get("x-request-id"));
    request.headers.set("x-request-id", id);
    this.peers.set(request, peer);
    let response: Response;
    // A Host header that cannot form a URL (spaces, slashes, userinfo, a bad port) leaves Bun's
    // request.url unparsable; every later `new URL(request.url)` would throw, so refuse it here.
    const url = URL.parse(request.url);
    // The tenant the host names: read only for the gateway's own /api/v2 answers, and only once.
    let hostRead: Promise<string | undefined> | undefined;
    const hostTenant = () => (hostRead ??= this.tenantOfHost(request, peer));
    try {
      checkMethod(request.method);
      if (!url) throw unparsableRequest(request);
      // Requests for AuthHero skip Elysia's routing and context: most traffic is proxied, and every
      // microsecond here is the gateway's overhead on top of AuthHero's own.
      if (await this.isOwnPreflight(request, url, hostTenant)) response = new Response(null, { status: 204 });
      else response = await (ownedByGateway(url.pathname) ? this.app.handle(request) : this.proxy(request, url));
    } catch (err) {
      response = errorToResponse(err, (cause) => this.log.error({ err: cause, reqId: id }, "request failed outside the app"));
    }
    if (url?.pathname.startsWith("/api/v2/") && !cameFromUpstream(response)) await this.cors.apply(response, request.headers.get("origin"), await hostTenant());
    response.headers.set("x-request-id", id);
    this.answered({ method: request.method, path: url?.pathname ?? "", status: response.status, seconds: (performance.now() - started) / 1000, peer, requestId: id });
    return response;
  }

  /** A CORS preflight for the gateway's own API on the control-plane host, which the gateway answers (204). */
  private async isOwnPreflight(request: Request, url: URL, hostTenant: () => Promise<string | undefined>): Promise<boolean> {
    if (!url.pathname.startsWith("/api/v2/") || !ownedByGateway(url.pathname) || url.pathname.startsWith("/api/v2/tenants/settings")) return false;
    return isPreflight(request.method, request.headers) && (await hostTenant()) === this.rules.controlPlane;
  }

  /** The tenant a request's host names (the control plane's id for its host), undefined for none. */
  private async tenantOfHost(request: Request, peer: string | undefined): Promise<string | undefined> {
    try {
      const target = await hostTarget(request.headers, peer, this.rules, this.registry);
      return target.kind === "control-plane" ? this.rules.controlPlane : target.kind === "tenant" ? target.id : undefined;
    } catch {
      return undefined;
    }
  }

  /** Metrics and the access log line of a request answered here. */
  private answered(f: Omit<Finished, "peer"> & { peer: string | undefined }): void {
    this.metrics.observe(routeClass(f.path, f.status), f.status, f.seconds);
    this.logged(f);
  }

  /** The access log line (requests answered here and those the front door forwarded). */
  logged(f: Omit<Finished, "peer"> & { peer: string | undefined }): void {
    if (this.accessLog) this.log.info({ reqId: f.requestId, method: f.method, path: f.path, status: f.status, ms: Math.round(f.seconds * 10000) / 10, peer: f.peer }, "request");
  }
}

function unparsableRequest(request: Request): HttpError {
  try {
    normalizeHost(request.headers.get("host"));
  } catch (err) {
    if (err instanceof HttpError) return err;
  }
  return new HttpError(400, "the request's Host header and target do not form a valid URL");
}
