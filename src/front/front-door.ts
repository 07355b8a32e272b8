import type { Socket, TCPSocketListener } from "bun";
import { HttpError } from "../http-error.ts";
import { forwardingFailure, MAX_HEAD_BYTES } from "../proxy/policy.ts";
import { append, CLOSED, CLOSING, DECIDING, linkOf, newConnection, type ClientConnection, type ReadingHead } from "./client-connection.ts";
import { errorAnswer } from "./error-answer.ts";
import { Forwarder } from "./forwarder.ts";
import { FullGateway } from "./hand-over.ts";
import type { Forward, FrontDoorOptions } from "./door-contract.ts";
import { readPlainRequest, type PlainRequest } from "./request-head.ts";

export type { Finished, Forward, FrontDoorOptions } from "./door-contract.ts";
import { CRLFCRLF } from "./response-head.ts";

/**
 * The gateway's listening socket. Plain requests for AuthHero (most of the traffic) it forwards itself
 * over an upstream connection paired with the client's, rewriting only the head; any other connection
 * it hands, bytes unchanged, to the full gateway's HTTP server behind it, which answers it as before.
 * Forwarding through `Bun.serve` and `fetch` cost about twice the CPU per request (docs/benchmarks.md).
 *
 * It reads request heads and passes each connection's events to what its phase is about: the
 * forwarder while an exchange is in flight, the full gateway once handed over.
 */
export class FrontDoor {
  private listener?: TCPSocketListener<ClientConnection>;
  private readonly connections = new Set<ClientConnection>();
  /** Connections with a request head still arriving (a trickle must not hold a connection forever). */
  private readonly reading = new Set<ClientConnection>();
  private sweeper?: ReturnType<typeof setInterval>;
  private readonly forwarder: Forwarder;
  private readonly fullGateway: FullGateway;

  constructor(private readonly o: FrontDoorOptions) {
    this.forwarder = new Forwarder({
      upstream: o.upstream,
      timeoutMs: o.timeoutMs,
      upstreamIdleMs: o.upstreamIdleMs,
      upstreamConnections: o.upstreamConnections,
      bodies: o.bodies,
      answered: o.answered,
      afterAnswer: (c) => this.afterAnswer(c),
      abort: (c) => this.abort(c),
    });
    this.fullGateway = new FullGateway({ ...o.inner, handedOver: o.handedOver, innerClosed: (c) => this.innerClosed(c), abandoned: (c) => this.close(c) });
  }

  listen(): number {
    this.listener = Bun.listen<ClientConnection>({
      hostname: this.o.hostname,
      port: this.o.port,
      // A client may send its requests and then shut its side (FIN): it still gets its answers.
      allowHalfOpen: true,
      socket: {
        open: (client) => this.opened(client),
        data: (client, data) => this.fromClient(client.data, data),
        drain: (client) => this.clientDrained(client.data),
        close: (client) => this.close(client.data),
        error: (client) => this.close(client.data),
        timeout: (client) => this.idle(client.data),
        end: (client) => this.clientEnded(client.data),
      },
    });
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.min(250, this.o.timeoutMs / 4)));
    return this.listener.port;
  }

  get port(): number {
    return this.listener?.port ?? this.o.port;
  }

  stop(): void {
    clearInterval(this.sweeper);
    this.listener?.stop(true);
    for (const c of this.connections) this.close(c);
    this.forwarder.stop();
  }

  private opened(client: Socket<ClientConnection>): void {
    const c = newConnection(client);
    client.data = c;
    client.timeout(this.o.idleTimeoutSeconds);
    this.connections.add(c);
  }

  private fromClient(c: ClientConnection, data: Buffer): void {
    const s = c.state;
    if (s.phase === "closed") return;
    c.inbox = append(c.inbox, data);
    if (s.phase === "handed-over") this.fullGateway.relay(c, s);
    else this.pump(c);
  }

  /** Moves the connection on: more body for the request in flight, or the next request's head. */
  private pump(c: ClientConnection): void {
    const s = c.state;
    if (s.phase === "reading-head") this.readHead(c, s);
    else if (s.phase === "forwarding") this.forwarder.fromClient(c, s);
  }

  private readHead(c: ClientConnection, s: ReadingHead): void {
    if (!c.inbox) {
      if (c.ended) this.close(c);
      return;
    }
    const end = c.inbox.indexOf(CRLFCRLF);
    if (end === -1) {
      // Past the policy's head limit: the full gateway answers 431.
      if (c.inbox.length >= MAX_HEAD_BYTES) return this.fullGateway.handOver(c);
      // A head the client will never finish: nothing to answer.
      if (c.ended) return this.close(c);
      if (s.since === 0) {
        c.state = { phase: "reading-head", since: performance.now() };
        this.reading.add(c);
      }
      return;
    }
    if (s.since !== 0) this.reading.delete(c);
    const request = readPlainRequest(c.inbox.toString("latin1", 0, end));
    if (!request) return this.fullGateway.handOver(c);
    let decided: ReturnType<FrontDoorOptions["decide"]>;
    try {
      decided = this.o.decide(request, c.peer);
    } catch {
      return this.fullGateway.handOver(c);
    }
    if (!(decided instanceof Promise)) return this.start(c, request, end, decided);
    c.state = DECIDING;
    c.client.pause();
    decided
      .catch(() => undefined)
      .then((forward) => {
        // Nothing but a close moves a connection on while it waits.
        if (c.state.phase !== "deciding") return;
        c.client.resume();
        this.start(c, request, end, forward);
      });
  }

  private start(c: ClientConnection, request: PlainRequest, headEnd: number, forward: Forward | undefined): void {
    if (!forward) return this.fullGateway.handOver(c);
    this.forwarder.start(c, request, headEnd, forward);
    // The client shut its side while the gateway decided.
    if (c.ended) this.clientEnded(c);
  }

  /**
   * The client sent FIN: a complete request is still answered, then the connection ends. A request
   * still owed bytes can never be whole: the client has gone, and everything held for it goes now.
   */
  private clientEnded(c: ClientConnection): void {
    const s = c.state;
    if (s.phase === "closed") return;
    c.ended = true;
    if (s.phase === "handed-over") this.fullGateway.relay(c, s);
    else if (s.phase === "reading-head") this.readHead(c, s);
    else if (s.phase === "forwarding" && s.bodyLeft > 0) this.close(c);
  }

  private clientDrained(c: ClientConnection): void {
    if (!c.toClient.flush()) return;
    const s = c.state;
    if (s.phase === "closing") this.close(c);
    else if (s.phase === "handed-over") s.inner?.resume();
    else if (s.phase === "forwarding") linkOf(s)?.socket?.resume();
  }

  private idle(c: ClientConnection): void {
    // A request in flight is the upstream timer's business; an idle connection ends.
    const { phase } = c.state;
    if (phase === "forwarding" || phase === "deciding" || phase === "handed-over") c.client.timeout(this.o.idleTimeoutSeconds);
    else this.close(c);
  }

  private sweep(): void {
    const now = performance.now();
    this.forwarder.sweep(now);
    const headLimit = this.o.idleTimeoutSeconds * 1000;
    for (const c of this.reading) {
      const s = c.state;
      if (s.phase !== "reading-head" || s.since === 0) this.reading.delete(c);
      else if (now - s.since > headLimit) this.refuse(c, ...forwardingFailure.headStalled(this.o.idleTimeoutSeconds));
    }
  }

  /** An error answer to a request the front door could not even read; the connection ends after it. */
  private refuse(c: ClientConnection, status: number, message: string): void {
    c.inbox = null;
    this.reading.delete(c);
    c.toClient.write(errorAnswer(new HttpError(status, message)));
    c.state = CLOSING;
    this.afterAnswer(c);
  }

  /** An answer is written: a closing connection ends once the client has it, one between requests reads the next. */
  private afterAnswer(c: ClientConnection): void {
    if (c.state.phase === "closing") {
      if (c.toClient.empty) this.close(c);
      return;
    }
    c.client.resume();
    this.pump(c);
  }

  private abort(c: ClientConnection): void {
    if (c.state.phase === "closed") return;
    c.client.terminate();
    this.close(c);
  }

  /** The full gateway closed a handed-over connection: the client gets what is still queued for it, then the close. */
  private innerClosed(c: ClientConnection): void {
    if (c.state.phase !== "handed-over") return;
    if (c.toClient.empty) return this.close(c);
    c.state = CLOSING;
  }

  private close(c: ClientConnection): void {
    const s = c.state;
    if (s.phase === "closed") return;
    c.state = CLOSED;
    this.connections.delete(c);
    this.reading.delete(c);
    this.forwarder.forget(c, s);
    // The client is gone (or the full gateway closed first): the full gateway's request for it is
    // cut at once, which aborts whatever it still waits on for it (Bun.serve aborts request.signal).
    if (s.phase === "handed-over") s.inner?.terminate();
    c.client.end();
  }
}
