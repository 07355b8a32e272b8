import type { Server } from "bun";
import type { Config } from "./config/index.ts";
import { errorToResponse } from "./error-response.ts";
import { frontDoorOptions } from "./front/index.ts";
import { FrontDoorThread } from "./front/index.ts";
import { closeGatewayParts, openGatewayParts, startGatewayParts, type GatewayParts } from "./gateway-parts.ts";
import { createLogger, type Logger } from "./log.ts";
import { RequestPipeline } from "./request-pipeline.ts";
import { servingTenantOfHost } from "./tenancy/index.ts";

/**
 * One gateway: its parts (gateway-parts.ts), its request path (request-pipeline.ts) and the HTTP
 * server in front of them, with the front door on a thread of its own. `open` builds the parts and
 * recovers interrupted lifecycle operations before anything is served.
 */
export class Gateway {
  private server?: Server<unknown>;
  private front?: FrontDoorThread;

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    /** The tenancy, relay, watch, token check and metrics: for operations and tests that set up data. */
    readonly parts: GatewayParts,
    private readonly pipeline: RequestPipeline,
  ) {}

  static async open(config: Config, log = createLogger(config.server.logLevel)): Promise<Gateway> {
    const parts = await openGatewayParts(config, log);
    return new Gateway(config, log, parts, new RequestPipeline(config, log, parts));
  }

  /**
   * Starts serving. With the front door (the default) the gateway's HTTP server listens on a private
   * loopback port and the front door, on a thread of its own, on the configured one: it forwards
   * plain AuthHero requests itself and hands every other connection to that server.
   */
  async listen(): Promise<void> {
    await startGatewayParts(this.parts);
    const server = this.config.server;
    // The front door speaks plain HTTP to the upstream: an https upstream is fetch's (TLS) alone.
    const front = server.frontDoor && this.pipeline.upstream.upstream.protocol === "http:";
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
        return this.pipeline.handle(request, (ip && this.front?.peers.read(ip.port)) ?? ip?.address);
      },
      error: (err) => errorToResponse(err, (cause) => this.log.error({ err: cause }, "server error")),
    });
    if (front) {
      const thread = (this.front = new FrontDoorThread({
        door: frontDoorOptions(this.config.front, { inner: { hostname: "127.0.0.1", port: this.server.port as number }, accessLog: this.pipeline.accessLog, bodies: this.parts.bodies }),
        registry: this.parts.registry,
        tenantOf: (host) => servingTenantOfHost(host, this.pipeline.rules, this.parts.registry),
        principal: (authorization) => this.pipeline.tokenAnswer(authorization),
        counted: (tally) => this.parts.metrics.add(tally),
        logged: (f) => this.pipeline.logged(f),
        log: this.log,
      }));
      this.parts.metrics.gatherBeforeScrape(() => thread.flush());
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
    await closeGatewayParts(this.parts);
  }
}
