import type { Socket, TCPSocketListener } from "bun";
import { HttpError } from "../http-error.ts";
import { BUFFERED_BODY_BYTES, forwardingFailure, MAX_HEAD_BYTES, upstreamHostHeader, upstreamRequestTarget } from "../proxy/policy.ts";
import { errorAnswer } from "./error-answer.ts";
import {
  append,
  bodyStarted,
  BETWEEN_REQUESTS,
  BUFFERING,
  CLOSED,
  CLOSING,
  DECIDING,
  LINKING,
  linkOf,
  MAX_INBOX,
  newConnection,
  rest,
  type Answering,
  type ClientConnection,
  type Exchange,
  type HandedOver,
  type Link,
  type ReadingHead,
  type Sent,
} from "./client-connection.ts";
import { OneAtATime } from "./one-at-a-time.ts";
import { Outbox } from "./outbox.ts";
import { UpstreamPool } from "./upstream-pool.ts";
import { readPlainRequest, type PlainRequest } from "./request-head.ts";
import { ChunkedScanner, CRLFCRLF, MAX_RESPONSE_HEAD, readResponseHead, type UpstreamResponseHead } from "./response-head.ts";

/** What the gateway decided for a plain request the front door forwards itself. */
export interface Forward {
  tenant: string;
  requestId: string;
}

export interface Finished {
  method: string;
  path: string;
  status: number;
  seconds: number;
  peer: string;
  requestId: string;
}

export interface FrontDoorOptions {
  hostname: string;
  port: number;
  upstream: { hostname: string; port: number; basePath: string; host: string; preserveHost: boolean };
  /** The full gateway's own HTTP server, for every request the front door does not forward itself. */
  inner: { hostname: string; port: number };
  /** Time allowed until the upstream's response head arrives (restarted while a request body moves). */
  timeoutMs: number;
  /** An upstream connection idle longer than this is not reused: the upstream may be closing it. */
  upstreamIdleMs: number;
  /** Most connections open to the upstream at once (shared by all client connections). */
  upstreamConnections: number;
  /** A client connection idle this long closes, and a request head must arrive within it. */
  idleTimeoutSeconds: number;
  /** Undefined hands the connection to the full gateway, which answers (or refuses) the request itself. */
  decide: (request: PlainRequest, peer: string) => Forward | undefined | Promise<Forward | undefined>;
  /** A connection is being handed over: the full gateway will see it come from `localPort` and must know its real peer. */
  handedOver: (localPort: number, peer: string) => void;
  /** A forwarded request has its response head (what the access log and metrics record). */
  answered: (f: Finished) => void;
}

const NON_ASCII = /[^\x00-\x7f]/;
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
/**
 * Where heads are put together before they go out: a write hands its bytes to the kernel at once,
 * or the outbox copies what must wait, so one buffer serves every connection of this thread and no
 * request allocates one.
 */
const scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * The gateway's listening socket. Plain requests for AuthHero (most of the traffic) it forwards itself
 * over an upstream connection paired with the client's, rewriting only the head; any other connection
 * it hands, bytes unchanged, to the full gateway's HTTP server behind it, which answers it as before.
 * Forwarding through `Bun.serve` and `fetch` cost about twice the CPU per request (docs/benchmarks.md).
 */
export class FrontDoor {
  private listener?: TCPSocketListener<ClientConnection>;
  private readonly connections = new Set<ClientConnection>();
  /** Connections whose request awaits the upstream's response head. */
  private readonly waiting = new Set<ClientConnection>();
  /** Connections with a request head still arriving (a trickle must not hold a connection forever). */
  private readonly reading = new Set<ClientConnection>();
  private sweeper?: ReturnType<typeof setInterval>;
  private readonly pool: UpstreamPool<ClientConnection>;

  constructor(private readonly o: FrontDoorOptions) {
    this.pool = new UpstreamPool<ClientConnection>({
      hostname: o.upstream.hostname,
      port: o.upstream.port,
      max: o.upstreamConnections,
      idleMs: o.upstreamIdleMs,
      data: (c, link, data) => this.fromUpstream(c, link, data),
      drained: (c, link) => {
        if (c.state.phase === "forwarding" && linkOf(c.state) === link) c.client.resume();
      },
      closed: (c, link) => this.upstreamClosed(c, link),
    });
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
    this.pool.stop();
  }

  private opened(client: Socket<ClientConnection>): void {
    const c = newConnection(client);
    client.data = c;
    client.timeout(this.o.idleTimeoutSeconds);
    this.connections.add(c);
  }

  // --- from the client ---------------------------------------------------------------------------

  private fromClient(c: ClientConnection, data: Buffer): void {
    const s = c.state;
    if (s.phase === "closed") return;
    c.inbox = append(c.inbox, data);
    if (s.phase === "handed-over") this.relay(c, s);
    else this.pump(c);
  }

  /** Moves the connection on: more body for the request in flight, or the next request's head. */
  private pump(c: ClientConnection): void {
    const s = c.state;
    if (s.phase === "reading-head") return this.readHead(c, s);
    if (s.phase !== "forwarding") return;
    if (s.upstream.step === "buffering") {
      if ((c.inbox?.length ?? 0) >= s.bodyLeft) this.send(c, s);
      else s.deadline = performance.now() + this.o.timeoutMs;
    } else if (s.bodyLeft > 0) {
      const link = linkOf(s);
      if (link) this.sendBody(c, s, link);
    }
    if (c.inbox && c.inbox.length > MAX_INBOX) c.client.pause();
  }

  private readHead(c: ClientConnection, s: ReadingHead): void {
    if (!c.inbox) {
      if (c.ended) this.close(c);
      return;
    }
    const end = c.inbox.indexOf(CRLFCRLF);
    if (end === -1) {
      // Past the policy's head limit: the full gateway answers 431.
      if (c.inbox.length >= MAX_HEAD_BYTES) return this.handOver(c);
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
    if (!request) return this.handOver(c);
    let decided: ReturnType<FrontDoorOptions["decide"]>;
    try {
      decided = this.o.decide(request, c.peer);
    } catch {
      return this.handOver(c);
    }
    if (!(decided instanceof Promise)) return this.start(c, request, end, decided);
    c.state = DECIDING;
    c.client.pause();
    decided
      .catch(() => undefined)
      .then((forward) => {
        // Nothing but a close moves a connection on while it waits.
        if (c.state !== DECIDING) return;
        c.client.resume();
        this.start(c, request, end, forward);
      });
  }

  private start(c: ClientConnection, request: PlainRequest, headEnd: number, forward: Forward | undefined): void {
    if (!forward) return this.handOver(c);
    const inbox = c.inbox as Buffer;
    const ex: Exchange = {
      phase: "forwarding",
      request,
      forward,
      source: inbox,
      headBytes: headEnd + 4,
      started: performance.now(),
      bodyLeft: request.contentLength,
      retried: false,
      // Both set by send, at once.
      deadline: 0,
      upstream: BUFFERING,
      closeAfter: request.close,
    };
    c.inbox = rest(inbox, headEnd + 4);
    c.state = ex;
    this.send(c, ex);
  }

  /**
   * Moves the exchange on to the upstream: once a small body is whole, an upstream connection from
   * the pool, then the head and what body there is.
   */
  private send(c: ClientConnection, ex: Exchange): void {
    ex.deadline = performance.now() + this.o.timeoutMs;
    this.waiting.add(c);
    if (ex.bodyLeft <= BUFFERED_BODY_BYTES && (c.inbox?.length ?? 0) < ex.bodyLeft) {
      ex.upstream = BUFFERING;
      return;
    }
    ex.upstream = LINKING;
    this.pool.acquire(c, (link) => this.linked(c, ex, link));
  }

  private linked(c: ClientConnection, ex: Exchange, link: Link | undefined): void {
    if (c.state !== ex) {
      if (link) this.pool.release(link, true);
      return;
    }
    if (!link) {
      // Nothing was sent: the full gateway tries the upstream itself and answers with its 502.
      this.waiting.delete(c);
      const raw = ex.source.subarray(0, ex.headBytes);
      c.inbox = c.inbox ? Buffer.concat([raw, c.inbox]) : raw;
      return this.handOver(c);
    }
    ex.upstream = { step: "sent", link, inbox: null };
    ex.deadline = performance.now() + this.o.timeoutMs;
    if (!link.out.writeCopy(...this.upstreamHead(c, ex))) c.client.pause();
    this.sendBody(c, ex, link);
  }

  /**
   * The head for the upstream, in `scratch` unless it is larger (it is never cut), and its length:
   * the gateway's lines (all ASCII: validated or generated) around the client's kept lines, copied
   * as bytes (no string to build, encode or check again).
   */
  private upstreamHead(c: ClientConnection, ex: Exchange): [Buffer, number] {
    const { request, forward, source } = ex;
    const { upstream } = this.o;
    const first = `${request.method} ${upstreamRequestTarget(upstream.basePath, request.target)} HTTP/1.1\r\nhost: ${upstreamHostHeader(upstream.host, request.host, upstream.preserveHost)}\r\n`;
    const last = `tenant-id: ${forward.tenant}\r\nx-forwarded-host: ${request.host}\r\nx-forwarded-proto: http\r\n${c.peer ? `x-forwarded-for: ${c.peer}\r\n` : ""}x-request-id: ${forward.requestId}\r\n\r\n`;
    const { kept } = request;
    let size = first.length + last.length;
    for (let i = 0; i < kept.length; i += 2) size += (kept[i + 1] as number) - (kept[i] as number);
    const out = size <= scratch.length ? scratch : Buffer.allocUnsafe(size);
    let at = out.write(first, 0, "latin1");
    for (let i = 0; i < kept.length; i += 2) at += source.copy(out, at, kept[i], kept[i + 1]);
    at += out.write(last, at, "latin1");
    if (at !== size) throw new Error(`upstream head of ${size} bytes was written as ${at}`);
    return [out, at];
  }

  private sendBody(c: ClientConnection, ex: Exchange, link: Link): void {
    if (ex.bodyLeft === 0 || !c.inbox) return;
    const take = Math.min(ex.bodyLeft, c.inbox.length);
    const chunk = c.inbox.subarray(0, take);
    c.inbox = rest(c.inbox, take);
    ex.bodyLeft -= take;
    // The upstream cannot answer before it has the body: a moving upload restarts the clock.
    if (ex.upstream.step !== "answering") ex.deadline = performance.now() + this.o.timeoutMs;
    if (!link.out.write(chunk)) c.client.pause();
  }

  /** The client sent FIN: what it sent is still answered, then the connection ends. */
  private clientEnded(c: ClientConnection): void {
    const s = c.state;
    if (s.phase === "closed") return;
    c.ended = true;
    if (s.phase === "handed-over") return this.relay(c, s);
    if (s.phase !== "forwarding") this.pump(c);
  }

  private clientDrained(c: ClientConnection): void {
    if (!c.toClient.flush()) return;
    const s = c.state;
    if (s.phase === "closing") return this.close(c);
    if (s.phase === "handed-over") s.inner?.resume();
    else if (s.phase === "forwarding") linkOf(s)?.socket?.resume();
  }

  private idle(c: ClientConnection): void {
    // A request in flight is the upstream timer's business; an idle connection ends.
    const { phase } = c.state;
    if (phase === "forwarding" || phase === "deciding" || phase === "handed-over") c.client.timeout(this.o.idleTimeoutSeconds);
    else this.close(c);
  }

  // --- from the upstream -------------------------------------------------------------------------

  /** One timer for every exchange still waiting for its response head (a timer per request cost ~1 µs). */
  private sweep(): void {
    const now = performance.now();
    for (const c of this.waiting) {
      const ex = c.state;
      if (ex.phase !== "forwarding" || ex.upstream.step === "answering") this.waiting.delete(c);
      else if (ex.deadline > now) continue;
      // The clock restarts with each body chunk: a body still owed means the client stopped sending.
      else if (ex.bodyLeft > 0 && ex.upstream.step !== "linking") this.fail(c, ex, ...forwardingFailure.bodyStalled(this.o.timeoutMs));
      else this.fail(c, ex, ...forwardingFailure.timeout(this.o.timeoutMs));
    }
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
    this.closeOnceOut(c);
  }

  private fromUpstream(c: ClientConnection, link: Link, data: Buffer): void {
    const ex = c.state;
    if (ex.phase !== "forwarding" || linkOf(ex) !== link) {
      // Bytes nobody asked for: the connection's framing can no longer be trusted.
      this.pool.release(link, false);
      return;
    }
    const up = ex.upstream;
    if (up.step === "sent") return this.responseHead(c, ex, up, data);
    const answering = up as Answering;
    this.relayBody(c, ex, answering, data);
    this.releaseHead(c, answering);
  }

  /** The upstream's bytes before its response head is whole, and what follows the head in them. */
  private responseHead(c: ClientConnection, ex: Exchange, sent: Sent, data: Buffer): void {
    // `bytes` from `from` on are still to be read (offsets, not views: a Buffer view costs more
    // than the copy it would save).
    let bytes = data;
    let from = 0;
    for (;;) {
      sent.inbox = append(sent.inbox, from === 0 ? bytes : bytes.subarray(from));
      const end = sent.inbox.indexOf(CRLFCRLF);
      if (end === -1) {
        if (sent.inbox.length > MAX_RESPONSE_HEAD) this.fail(c, ex, 502, "the upstream's response head is over 64 KiB");
        return;
      }
      const head = readResponseHead(sent.inbox.toString("latin1", 0, end), ex.request.method);
      // What is wrong is the upstream's business; the client gets the answer the fetch path gives.
      if (head instanceof Error) return this.fail(c, ex, ...forwardingFailure.malformed());
      bytes = sent.inbox;
      from = end + 4;
      sent.inbox = null;
      if (head.status < 200) {
        // An interim response (103 Early Hints) is not passed on, as on the fetch path, which cannot;
        // the final one follows.
        if (head.status === 101) return this.fail(c, ex, ...forwardingFailure.malformed());
        if (from >= bytes.length) return;
        continue;
      }
      const answering = this.answer(c, ex, sent.link, head);
      if (from >= bytes.length) this.bodyProgress(c, ex, answering);
      else this.relayBody(c, ex, answering, bytes, from);
      return this.releaseHead(c, answering);
    }
  }

  private answer(c: ClientConnection, ex: Exchange, link: Link, head: UpstreamResponseHead): Answering {
    this.waiting.delete(c);
    // A request body the upstream did not wait for leaves the client mid-message: close after.
    if (head.framing.kind === "close" || ex.bodyLeft > 0) ex.closeAfter = true;
    const answering: Answering = {
      step: "answering",
      link,
      response: head,
      left: head.framing.kind === "length" ? head.framing.bytes : 0,
      chunks: head.framing.kind === "chunked" ? new ChunkedScanner() : undefined,
      // Head and body in one write: on loopback a second write costs the reader a second wake-up, and
      // it was most of the CPU per request (bench/proxy.ts).
      heldHead: `${head.statusLine}\r\n${head.block}x-request-id: ${ex.forward.requestId}\r\n${ex.closeAfter ? "connection: close\r\n" : ""}\r\n`,
    };
    ex.upstream = answering;
    this.record(c, ex, head.status);
    return answering;
  }

  /** The exchange's access record (metrics, log line), once its status is known. */
  private record(c: ClientConnection, ex: Exchange, status: number): void {
    const seconds = (performance.now() - ex.started) / 1000;
    this.o.answered({ method: ex.request.method, path: ex.request.path, status, seconds, peer: c.peer, requestId: ex.forward.requestId });
  }

  /** Body bytes of the response, `bytes` from `from` on. */
  private relayBody(c: ClientConnection, ex: Exchange, answering: Answering, bytes: Buffer, from = 0): void {
    const framing = answering.response.framing;
    switch (framing.kind) {
      case "none":
        // Bytes after a bodiless response: the upstream's framing is off; do not reuse it.
        this.dropLink(answering);
        return this.complete(c, ex, answering);
      case "length": {
        const take = Math.min(answering.left, bytes.length - from);
        if (take > 0) this.toClient(c, answering, bytes, from, from + take);
        answering.left -= take;
        if (from + take < bytes.length) this.dropLink(answering);
        return this.bodyProgress(c, ex, answering);
      }
      case "chunked": {
        const part = from === 0 ? bytes : bytes.subarray(from);
        const scanner = answering.chunks as ChunkedScanner;
        const n = scanner.scan(part);
        if (n < 0) return this.abort(c);
        if (n > 0) this.toClient(c, answering, part, 0, n);
        if (n < part.length) this.dropLink(answering);
        if (scanner.done) this.complete(c, ex, answering);
        return;
      }
      case "close":
        this.toClient(c, answering, bytes, from);
        return;
    }
  }

  private bodyProgress(c: ClientConnection, ex: Exchange, answering: Answering): void {
    const framing = answering.response.framing;
    if (framing.kind === "none" || (framing.kind === "length" && answering.left === 0)) this.complete(c, ex, answering);
  }

  /** The response is out: the next pipelined request may go, or the connection ends. */
  private complete(c: ClientConnection, ex: Exchange, answering: Answering): void {
    if (c.state !== ex) return;
    this.releaseHead(c, answering);
    c.state = ex.closeAfter ? CLOSING : BETWEEN_REQUESTS;
    const link = answering.link;
    answering.link = undefined;
    // A request body the upstream did not read whole, or bytes still queued for it, would be read
    // as the next request on that connection: it is reused only after a clean exchange.
    if (link) this.pool.release(link, !answering.response.close && ex.bodyLeft === 0);
    if (ex.closeAfter) {
      if (c.toClient.empty) this.close(c);
      return;
    }
    c.client.resume();
    this.pump(c);
  }

  /** The connection ends once what is queued for the client is out. */
  private closeOnceOut(c: ClientConnection): void {
    c.state = CLOSING;
    if (c.toClient.empty) this.close(c);
  }

  /** `bytes` from `from` to `to` for the client, after the held response head if there is one. */
  private toClient(c: ClientConnection, answering: Answering, bytes: Buffer, from = 0, to = bytes.length): void {
    const head = answering.heldHead;
    let sent: boolean;
    if (head !== undefined) {
      answering.heldHead = undefined;
      const size = head.length + to - from;
      const out = size <= scratch.length ? scratch : Buffer.allocUnsafe(size);
      out.write(head, 0, "latin1");
      bytes.copy(out, head.length, from, to);
      sent = c.toClient.writeCopy(out, size);
    } else sent = c.toClient.write(from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to));
    if (!sent) answering.link?.socket?.pause();
  }

  private releaseHead(c: ClientConnection, answering: Answering): void {
    const head = answering.heldHead;
    if (head === undefined) return;
    answering.heldHead = undefined;
    if (!c.toClient.write(NON_ASCII.test(head) ? Buffer.from(head, "latin1") : head)) answering.link?.socket?.pause();
  }

  private upstreamClosed(c: ClientConnection, link: Link): void {
    const ex = c.state;
    if (ex.phase !== "forwarding" || linkOf(ex) !== link) return;
    const up = ex.upstream;
    if (up.step === "sent") {
      // A kept-alive connection the upstream closed just as the request went out (its idle timeout
      // racing ours): try once more on a new one, when nothing but the head was sent and doing it
      // twice is harmless (an idempotent method, RFC 9110 §9.2.2). The upstream may have acted on it.
      if (link.uses > 0 && !ex.retried && !bodyStarted(ex) && IDEMPOTENT.has(ex.request.method)) {
        ex.retried = true;
        return this.send(c, ex);
      }
      // The link is the pool's already: nothing to give back.
      return this.failUnanswered(c, ex, ...forwardingFailure.closed(`http://${this.o.upstream.host}`));
    }
    const answering = up as Answering;
    answering.link = undefined;
    if (answering.response.framing.kind === "close") {
      ex.closeAfter = true;
      return this.complete(c, ex, answering);
    }
    // Mid-body: the client must see the response cut short, not a complete one.
    this.abort(c);
  }

  /** Closes the answering exchange's upstream connection rather than lend it again (its framing is off). */
  private dropLink(answering: Answering): void {
    const link = answering.link;
    answering.link = undefined;
    if (link) this.pool.release(link, false);
  }

  /** Answers the exchange with the gateway's JSON error and ends the connection (its framing is lost). */
  private fail(c: ClientConnection, ex: Exchange, status: number, message: string): void {
    this.waiting.delete(c);
    const up = ex.upstream;
    if (up.step === "linking") this.pool.cancel(c);
    else if (up.step === "sent") this.pool.release(up.link, false);
    else if (up.step === "answering") {
      this.dropLink(up);
      return this.abort(c);
    }
    this.failUnanswered(c, ex, status, message);
  }

  /** `fail` once the exchange holds no upstream connection and nothing of a response was written. */
  private failUnanswered(c: ClientConnection, ex: Exchange, status: number, message: string): void {
    this.waiting.delete(c);
    c.toClient.write(errorAnswer(new HttpError(status, message), ex.forward.requestId));
    this.record(c, ex, status);
    this.closeOnceOut(c);
  }

  // --- handing a connection to the full gateway --------------------------------------------------

  private handOver(c: ClientConnection): void {
    const h: HandedOver = { phase: "handed-over", serial: new OneAtATime(), inner: undefined, toInner: new Outbox(() => h.inner) };
    c.state = h;
    c.client.pause();
    Bun.connect<ClientConnection>({
      hostname: this.o.inner.hostname,
      port: this.o.inner.port,
      data: c,
      socket: {
        open: (s) => {
          // Registered before any byte is written, so the gateway knows the peer of the first request.
          this.o.handedOver(s.localPort, c.peer);
        },
        data: (s, data) => {
          if (c.state === CLOSED) return;
          const next = h.serial.answered(data);
          if (!c.toClient.write(data)) s.pause();
          if (next || h.serial.passingAll) this.relay(c, h);
        },
        drain: (s) => {
          if (h.inner === s && h.toInner.flush()) c.client.resume();
        },
        close: () => this.close(c),
        error: () => this.close(c),
      },
    }).then(
      (s) => {
        if (c.state === CLOSED) return void s.end();
        h.inner = s;
        this.relay(c, h);
      },
      () => this.close(c),
    );
  }

  /** Passes what the client sent on to the full gateway, as far as the request in flight allows. */
  private relay(c: ClientConnection, h: HandedOver): void {
    if (!h.inner) return;
    const pending = c.inbox;
    if (pending) {
      const n = h.serial.take(pending);
      if (n > 0) {
        c.inbox = rest(pending, n);
        if (!h.toInner.write(n === pending.length ? pending : pending.subarray(0, n))) return void c.client.pause();
      }
    }
    // Held bytes (the next requests) wait for the answer; past MAX_INBOX the client waits too.
    if (c.inbox && c.inbox.length > MAX_INBOX) c.client.pause();
    else c.client.resume();
    if (c.ended && !c.inbox) h.toInner.shutdown();
  }

  private abort(c: ClientConnection): void {
    if (c.state === CLOSED) return;
    c.client.terminate();
    this.close(c);
  }

  private close(c: ClientConnection): void {
    const s = c.state;
    if (s === CLOSED) return;
    c.state = CLOSED;
    this.connections.delete(c);
    this.waiting.delete(c);
    this.reading.delete(c);
    this.pool.cancel(c);
    if (s.phase === "forwarding") {
      const link = linkOf(s);
      if (link) this.pool.release(link, false);
    } else if (s.phase === "handed-over") s.inner?.end();
    c.client.end();
  }
}
