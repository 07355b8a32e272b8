import type { Server } from "bun";
import { Elysia } from "elysia";
import { errorHandling } from "./api/errors.ts";
import { docs } from "./api/docs.ts";
import { operationsApi } from "./api/health.ts";
import { GatewayMetrics } from "./api/metrics.ts";
import { tenantsApi } from "./api/tenants.ts";
import { syncApi } from "./api/sync.ts";
import { effectiveSettingsApi } from "./api/effective-settings.ts";
import { controlPlaneGate } from "./api/control-plane-gate.ts";
import { bearerToken, principalOf, verifierFor, type Principal, type TokenVerifier } from "./auth/index.ts";
import type { Config } from "./config.ts";
import { errorToResponse } from "./error-response.ts";
import { HttpError } from "./http-error.ts";
import { createLogger, type Logger } from "./log.ts";
import type { TokenAnswer } from "./front/answers.ts";
import type { Finished } from "./front/front-door.ts";
import { frontDoorOptions } from "./front/door-options.ts";
import { FrontDoorThread } from "./front/front-door-thread.ts";
import { ownedByGateway, routeClass } from "./gateway-paths.ts";
import { cameFromUpstream, checkMethod, createProxy, isPreflight, SyncedEntityGuard, upstreamOptions, type UpstreamOptions } from "./proxy/index.ts";
import { ManagementCors } from "./api/cors.ts";
import { requestIdOf } from "./request-id.ts";
import { hostTarget, servingTenantOfHost, targetRules, type TargetRules } from "./tenancy/request-target.ts";
import { normalizeHost } from "./tenancy/resolve-tenant.ts";
import { DataDirWatch } from "./tenancy/watch.ts";
import { openTenancy } from "./tenancy/index.ts";
import { openRelay, type OutboxRelay } from "./sync/index.ts";
import type { ControlPlane } from "./storage/control-plane.ts";
import type { HandlePool } from "./storage/pool.ts";
import type { OperationJournal } from "./tenancy/journal.ts";
import type { TenantLifecycle } from "./tenancy/lifecycle.ts";
import type { TenantRegistry } from "./tenancy/registry.ts";
import pkg from "../package.json" with { type: "json" };

/**
 * One gateway: the control plane, the tenant files, the lifecycle, the token check, and the HTTP
 * server that composes the API plugins in front of the proxy. `open` recovers interrupted lifecycle
 * operations before anything is served.
 */
export class Gateway {
  readonly app;
  private server?: Server<unknown>;
  private front?: FrontDoorThread;
  private readonly peers = new WeakMap<Request, string | undefined>();
  private readonly rules: TargetRules;
  private readonly proxy: (request: Request, url?: URL) => Promise<Response>;
  private readonly upstream: UpstreamOptions;
  /** The per-request line is logged at info; below that, its fields are not even gathered. */
  private readonly accessLog: boolean;
  private readonly cors: ManagementCors;

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly cp: ControlPlane,
    readonly pool: HandlePool,
    readonly registry: TenantRegistry,
    readonly journal: OperationJournal,
    readonly lifecycle: TenantLifecycle,
    readonly watch: DataDirWatch,
    readonly relay: OutboxRelay,
    private readonly verifier: TokenVerifier,
    readonly metrics: GatewayMetrics,
  ) {
    const rules = (this.rules = targetRules(config.hosts));
    const upstream = (this.upstream = upstreamOptions(config.forwarding));
    const peer = (request: Request) => this.peers.get(request);

    const proxy = (this.proxy = createProxy({
      rules,
      registry,
      upstream,
      guard: new SyncedEntityGuard(pool),
      authenticate: (request) => this.authenticate(request),
      peer,
      ...config.proxy,
    }));

    this.accessLog = log.isLevelEnabled("info");
    this.cors = new ManagementCors(config.api.allowedOrigins, (id) => {
      if (id === cp.id) return cp.db;
      try {
        return pool.get(id);
      } catch {
        return undefined;
      }
    });

    // normalize: false makes `additionalProperties: false` refuse unknown fields (400) instead of
    // silently dropping them; Elysia reads it from the root instance only.
    this.app = new Elysia({ name: "tenantgate", normalize: false })
      .use(errorHandling(log))
      .use(operationsApi(cp, metrics))
      .use(
        controlPlaneGate({
          prefixes: ["/api/v2/tenants", "/api/v2/sync"],
          onControlPlaneHost: (request) => hostTarget(request.headers, peer(request), rules, registry).kind === "control-plane",
          forward: proxy,
          maxBodyBytes: 64 * 1024,
        }),
      )
      .use(docs(pkg.version))
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
      .use(effectiveSettingsApi({ cp, pool, secretKeys: config.api.syncSecretKeys, authenticate: (request) => this.authenticate(request) }))
      .all("/", ({ request }) => proxy(request), { parse: "none", detail: { hide: true } })
      .all("/*", ({ request }) => proxy(request), { parse: "none", detail: { hide: true } });
  }

  static async open(config: Config, log = createLogger(config.server.logLevel)): Promise<Gateway> {
    const tenancy = openTenancy(config.tenancy, log);
    const { dir, cp, pool, registry, journal, lifecycle } = tenancy;
    const recovered = lifecycle.recover();
    if (recovered.finished.length + recovered.undone.length > 0) log.warn(recovered, "finished or undid interrupted tenant operations");
    if (recovered.live.length > 0) log.info(recovered, "operations of live processes left to them");
    lifecycle.sweepTrash();

    const verifier = await verifierFor(config.tokens, (host) => registry.customDomain(host));
    const metrics = new GatewayMetrics(registry, pool);
    const relay = openRelay(tenancy, config.sync, log, metrics.relayObserver());
    const watch = new DataDirWatch({
      dir,
      registry,
      lifecycle,
      pool,
      adoptFiles: config.watch.adoptFiles,
      rescanMs: config.watch.rescanSeconds * 1000,
      log,
      onReplaced: (id) => relay.fileReplaced(id),
      onRescan: () => relay.recheckFiles(),
    });
    metrics.watchRelay(relay);
    return new Gateway(config, log, cp, pool, registry, journal, lifecycle, watch, relay, verifier, metrics);
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
    const principal = principalOf(claims, { controlPlane, orgs: this.registry, trustOrgName, issuers: this.verifier.issuers });
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
    let hostRead: { tenant: string | undefined } | undefined;
    const hostTenant = () => (hostRead ??= { tenant: this.tenantOfHost(request, peer) }).tenant;
    try {
      checkMethod(request.method);
      if (!url) throw unparsableRequest(request);
      // Requests for AuthHero skip Elysia's routing and context: most traffic is proxied, and every
      // microsecond here is the gateway's overhead on top of AuthHero's own.
      if (this.isOwnPreflight(request, url, hostTenant)) response = new Response(null, { status: 204 });
      else response = await (ownedByGateway(url.pathname) ? this.app.handle(request) : this.proxy(request, url));
    } catch (err) {
      response = errorToResponse(err, (cause) => this.log.error({ err: cause, reqId: id }, "request failed outside the app"));
    }
    if (url?.pathname.startsWith("/api/v2/") && !cameFromUpstream(response)) this.cors.apply(response, request.headers.get("origin"), hostTenant());
    response.headers.set("x-request-id", id);
    this.answered({ method: request.method, path: url?.pathname ?? "", status: response.status, seconds: (performance.now() - started) / 1000, peer, requestId: id });
    return response;
  }

  /** A CORS preflight for the gateway's own API on the control-plane host, which the gateway answers (204). */
  private isOwnPreflight(request: Request, url: URL, hostTenant: () => string | undefined): boolean {
    if (!url.pathname.startsWith("/api/v2/") || !ownedByGateway(url.pathname) || url.pathname.startsWith("/api/v2/tenants/settings")) return false;
    return isPreflight(request.method, request.headers) && hostTenant() === this.rules.controlPlane;
  }

  /** The tenant a request's host names (the control plane's id for its host), undefined for none. */
  private tenantOfHost(request: Request, peer: string | undefined): string | undefined {
    try {
      const target = hostTarget(request.headers, peer, this.rules, this.registry);
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
  private logged(f: Omit<Finished, "peer"> & { peer: string | undefined }): void {
    if (this.accessLog) this.log.info({ reqId: f.requestId, method: f.method, path: f.path, status: f.status, ms: Math.round(f.seconds * 10000) / 10, peer: f.peer }, "request");
  }

  /**
   * Starts serving. With the front door (the default) the gateway's HTTP server listens on a private
   * loopback port and the front door, on a thread of its own, on the configured one: it forwards
   * plain AuthHero requests itself and hands every other connection to that server.
   */
  async listen(): Promise<void> {
    this.watch.start();
    this.relay.start();
    const server = this.config.server;
    // The front door speaks plain HTTP to the upstream: an https upstream is fetch's (TLS) alone.
    const front = server.frontDoor && this.upstream.upstream.protocol === "http:";
    this.server = Bun.serve({
      hostname: front ? "127.0.0.1" : server.host,
      port: front ? 0 : server.port,
      // The proxy enforces --max-body-bytes itself (with a JSON 413); Bun's own cut-off answers an
      // empty 413, so it is only the last resort.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      idleTimeout: server.clientTimeoutSeconds,
      fetch: (request, server) => {
        // Bun's idle timeout would cut an upload that is still moving: a body's stalls are timed by
        // the proxy itself, chunk by chunk (policy.ts, bodyStalled).
        if (request.body) server.timeout(request, 0);
        const ip = server.requestIP(request);
        return this.handle(request, (ip && this.front?.peers.read(ip.port)) ?? ip?.address);
      },
      error: (err) => errorToResponse(err, (cause) => this.log.error({ err: cause }, "server error")),
    });
    if (front) {
      const thread = (this.front = new FrontDoorThread({
        door: frontDoorOptions(this.config.front, { inner: { hostname: "127.0.0.1", port: this.server.port as number }, accessLog: this.accessLog }),
        registry: this.registry,
        tenantOf: (host) => servingTenantOfHost(host, this.rules, this.registry),
        principal: (authorization) => this.tokenAnswer(authorization),
        counted: (tally) => this.metrics.add(tally),
        logged: (f) => this.logged(f),
        log: this.log,
      }));
      this.metrics.gatherBeforeScrape(() => thread.flush());
      await thread.start();
    }
    this.log.info({ url: `http://${server.host}:${this.port}/`, dataDir: this.config.tenancy.dataDir, dev: this.config.tokens.dev, frontDoor: front }, "tenantgate listening");
  }

  get port(): number {
    return this.front?.port ?? this.server?.port ?? this.config.server.port;
  }

  async close(): Promise<void> {
    await this.front?.stop();
    await this.server?.stop(true);
    await this.watch.stop();
    await this.relay.stop();
    this.pool.closeAll();
    this.cp.close();
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
