import type { Socket, TCPSocketListener } from "bun";
import { HttpError } from "../http-error.ts";
import { BUFFERED_BODY_BYTES, forwardingFailure, MAX_HEAD_BYTES, upstreamHostHeader, upstreamRequestTarget } from "../proxy/policy.ts";
import { errorAnswer } from "./error-answer.ts";
import { OneAtATime } from "./one-at-a-time.ts";
import { Outbox } from "./outbox.ts";
import { UpstreamPool, type UpstreamLink } from "./upstream-pool.ts";
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

/** Pipelined bytes held while a request is in flight before the client is made to wait. */
const MAX_INBOX = 256 * 1024;

const NON_ASCII = /[^\x00-\x7f]/;
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
/**
 * Where heads are put together before they go out: a write hands its bytes to the kernel at once,
 * or the outbox copies what must wait, so one buffer serves every connection of this thread and no
 * request allocates one.
 */
const scratch = Buffer.allocUnsafe(64 * 1024);

type Peer = Socket<Connection>;
type Link = UpstreamLink<Connection>;

/** One request in flight through the front door, from its head to the end of the response body. */
interface Exchange {
  request: PlainRequest;
  forward: Forward;
  /** Where the client's own bytes for the head are (`source` up to `headBytes`), to hand them over unchanged if the upstream cannot be reached. */
  source: Buffer;
  headBytes: number;
  bodyLeft: number;
  bodySent: boolean;
  started: number;
  reused: boolean;
  retried: boolean;
  /** When the body, the upstream connection or the response head is overdue (performance.now() time). */
  deadline: number;
  /** The body is still arriving, before an upstream connection is taken (policy.ts, BUFFERED_BODY_BYTES). */
  buffering: boolean;
  /** An upstream connection has been asked for and not yet given. */
  linking: boolean;
  upInbox: Buffer | null;
  response?: UpstreamResponseHead;
  /** Body bytes still to come (length framing). */
  left: number;
  chunks?: ChunkedScanner;
}

/** A client connection, and what carries its exchange: an upstream connection lent by the pool, or the full gateway. */
interface Connection {
  client: Peer;
  peer: string;
  inbox: Buffer | null;
  deciding: boolean;
  exchange?: Exchange;
  /** The upstream connection lent for the exchange in flight. */
  link?: Link;
  toClient: Outbox<Connection>;
  handedOver: boolean;
  inner?: Peer;
  toInner: Outbox<Connection>;
  /** Which of a handed-over connection's bytes may go to the full gateway yet (one request at a time). */
  serial?: OneAtATime;
  /** End the client connection once the current response is out. */
  closeAfter: boolean;
  /** When the first bytes of a head still incomplete arrived (0: none pending). */
  headSince: number;
  /** The client shut its side (FIN): no more requests will come. */
  ended: boolean;
  /** A response head (latin1) not yet written: it goes out with the first body bytes, in one write. */
  heldHead?: string;
  closed: boolean;
}

/**
 * The gateway's listening socket. Plain requests for AuthHero (most of the traffic) it forwards itself
 * over an upstream connection paired with the client's, rewriting only the head; any other connection
 * it hands, bytes unchanged, to the full gateway's HTTP server behind it, which answers it as before.
 * Forwarding through `Bun.serve` and `fetch` cost about twice the CPU per request (docs/benchmarks.md).
 */
export class FrontDoor {
  private listener?: TCPSocketListener<Connection>;
  private readonly connections = new Set<Connection>();
  /** Connections whose request awaits the upstream's response head. */
  private readonly waiting = new Set<Connection>();
  /** Connections with a request head still arriving (a trickle must not hold a connection forever). */
  private readonly reading = new Set<Connection>();
  private sweeper?: ReturnType<typeof setInterval>;
  private readonly pool: UpstreamPool<Connection>;

  constructor(private readonly o: FrontDoorOptions) {
    this.pool = new UpstreamPool<Connection>({
      hostname: o.upstream.hostname,
      port: o.upstream.port,
      max: o.upstreamConnections,
      idleMs: o.upstreamIdleMs,
      data: (c, link, data) => this.fromUpstream(c, link, data),
      drained: (c, link) => {
        if (c.link === link) c.client.resume();
      },
      closed: (c, link) => this.upstreamClosed(c, link),
    });
  }


  listen(): number {
    this.listener = Bun.listen<Connection>({
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

  private opened(client: Peer): void {
    const c: Connection = {
      client,
      peer: client.remoteAddress ?? "",
      inbox: null,
      deciding: false,
      toClient: new Outbox(() => (c.closed ? undefined : c.client)),
      handedOver: false,
      toInner: new Outbox(() => c.inner),
      closeAfter: false,
      ended: false,
      headSince: 0,
      closed: false,
    };
    client.data = c;
    client.timeout(this.o.idleTimeoutSeconds);
    this.connections.add(c);
  }

  // --- from the client ---------------------------------------------------------------------------

  private fromClient(c: Connection, data: Buffer): void {
    if (c.closed) return;
    if (c.handedOver) {
      c.inbox = append(c.inbox, data);
      return this.relay(c);
    }
    c.inbox = append(c.inbox, data);
    this.pump(c);
  }

  /** Moves the connection on: more body for the request in flight, or the next request's head. */
  private pump(c: Connection): void {
    const ex = c.exchange;
    if (ex) {
      if (ex.buffering) {
        if ((c.inbox?.length ?? 0) >= ex.bodyLeft) this.send(c, ex);
        else ex.deadline = performance.now() + this.o.timeoutMs;
      } else if (ex.bodyLeft > 0 && c.link) this.sendBody(c, ex);
      if (c.inbox && c.inbox.length > MAX_INBOX) c.client.pause();
      return;
    }
    if (c.deciding || c.closeAfter) return;
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
      if (c.headSince === 0) {
        c.headSince = performance.now();
        this.reading.add(c);
      }
      return;
    }
    if (c.headSince !== 0) {
      c.headSince = 0;
      this.reading.delete(c);
    }
    const request = readPlainRequest(c.inbox.toString("latin1", 0, end));
    if (!request) return this.handOver(c);
    let decided: ReturnType<FrontDoorOptions["decide"]>;
    try {
      decided = this.o.decide(request, c.peer);
    } catch {
      return this.handOver(c);
    }
    if (!(decided instanceof Promise)) return this.start(c, request, end, decided);
    c.deciding = true;
    c.client.pause();
    decided
      .catch(() => undefined)
      .then((forward) => {
        c.deciding = false;
        if (c.closed) return;
        c.client.resume();
        this.start(c, request, end, forward);
      });
  }

  private start(c: Connection, request: PlainRequest, headEnd: number, forward: Forward | undefined): void {
    if (!forward) return this.handOver(c);
    const inbox = c.inbox as Buffer;
    const ex: Exchange = {
      request,
      forward,
      source: inbox,
      headBytes: headEnd + 4,
      bodyLeft: request.contentLength,
      bodySent: false,
      started: performance.now(),
      reused: false,
      retried: false,
      deadline: 0,
      buffering: false,
      linking: false,
      upInbox: null,
      left: 0,
    };
    c.inbox = rest(inbox, headEnd + 4);
    c.exchange = ex;
    if (request.close) c.closeAfter = true;
    this.send(c, ex);
  }

  /**
   * Moves the exchange on to the upstream: once a small body is whole, an upstream connection from
   * the pool, then the head and what body there is.
   */
  private send(c: Connection, ex: Exchange): void {
    ex.deadline = performance.now() + this.o.timeoutMs;
    this.waiting.add(c);
    ex.buffering = ex.bodyLeft <= BUFFERED_BODY_BYTES && (c.inbox?.length ?? 0) < ex.bodyLeft;
    if (ex.buffering) return;
    ex.linking = true;
    this.pool.acquire(c, (link) => this.linked(c, ex, link));
  }

  private linked(c: Connection, ex: Exchange, link: Link | undefined): void {
    ex.linking = false;
    if (c.closed || c.exchange !== ex) {
      if (link) this.pool.release(link, true);
      return;
    }
    if (!link) {
      // Nothing was sent: the full gateway tries the upstream itself and answers with its 502.
      this.waiting.delete(c);
      c.exchange = undefined;
      const raw = ex.source.subarray(0, ex.headBytes);
      c.inbox = c.inbox ? Buffer.concat([raw, c.inbox]) : raw;
      return this.handOver(c);
    }
    c.link = link;
    ex.reused = link.uses > 0;
    ex.deadline = performance.now() + this.o.timeoutMs;
    if (!link.out.writeCopy(...this.upstreamHead(c, ex))) c.client.pause();
    this.sendBody(c, ex);
  }

  /**
   * The head for the upstream, in `scratch` unless it is larger (it is never cut), and its length:
   * the gateway's lines (all ASCII: validated or generated) around the client's kept lines, copied
   * as bytes (no string to build, encode or check again).
   */
  private upstreamHead(c: Connection, ex: Exchange): [Buffer, number] {
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

  private sendBody(c: Connection, ex: Exchange): void {
    if (ex.bodyLeft === 0 || !c.inbox) return;
    const take = Math.min(ex.bodyLeft, c.inbox.length);
    const chunk = c.inbox.subarray(0, take);
    c.inbox = rest(c.inbox, take);
    ex.bodyLeft -= take;
    ex.bodySent = true;
    // The upstream cannot answer before it has the body: a moving upload restarts the clock.
    if (!ex.response) ex.deadline = performance.now() + this.o.timeoutMs;
    if (!(c.link as Link).out.write(chunk)) c.client.pause();
  }

  /** The client sent FIN: what it sent is still answered, then the connection ends. */
  private clientEnded(c: Connection): void {
    if (c.closed) return;
    c.ended = true;
    if (c.handedOver) return this.relay(c);
    if (!c.exchange) this.pump(c);
  }

  private clientDrained(c: Connection): void {
    if (!c.toClient.flush()) return;
    if (c.closeAfter && !c.exchange) return this.close(c);
    if (c.handedOver) c.inner?.resume();
    else c.link?.socket?.resume();
  }

  private idle(c: Connection): void {
    // A request in flight is the upstream timer's business; an idle connection ends.
    if (c.exchange || c.deciding || c.handedOver) c.client.timeout(this.o.idleTimeoutSeconds);
    else this.close(c);
  }

  // --- from the upstream -------------------------------------------------------------------------

  /** One timer for every exchange still waiting for its response head (a timer per request cost ~1 µs). */
  private sweep(): void {
    const now = performance.now();
    for (const c of this.waiting) {
      const ex = c.exchange;
      if (!ex || ex.response) this.waiting.delete(c);
      else if (ex.deadline > now) continue;
      // The clock restarts with each body chunk: a body still owed means the client stopped sending.
      else if (ex.bodyLeft > 0 && !ex.linking) this.fail(c, ex, ...forwardingFailure.bodyStalled(this.o.timeoutMs));
      else this.fail(c, ex, ...forwardingFailure.timeout(this.o.timeoutMs));
    }
    const headLimit = this.o.idleTimeoutSeconds * 1000;
    for (const c of this.reading) {
      if (c.closed || c.headSince === 0) this.reading.delete(c);
      else if (now - c.headSince > headLimit) this.refuse(c, ...forwardingFailure.headStalled(this.o.idleTimeoutSeconds));
    }
  }

  /** An error answer to a request the front door could not even read; the connection ends after it. */
  private refuse(c: Connection, status: number, message: string): void {
    c.closeAfter = true;
    c.inbox = null;
    // Answered: a client slow to read it must not be refused again by the next sweep.
    c.headSince = 0;
    this.reading.delete(c);
    this.toClient(c, errorAnswer(new HttpError(status, message)));
    if (c.toClient.empty) this.close(c);
  }

  private fromUpstream(c: Connection, link: Link, data: Buffer): void {
    const ex = c.exchange;
    if (!ex || c.link !== link) {
      // Bytes nobody asked for: the connection's framing can no longer be trusted.
      this.pool.release(link, false);
      return;
    }
    // `bytes` from `from` on are still to be read (offsets, not views: a Buffer view costs more
    // than the copy it would save).
    let bytes = data;
    let from = 0;
    while (!ex.response) {
      ex.upInbox = append(ex.upInbox, from === 0 ? bytes : bytes.subarray(from));
      const end = ex.upInbox.indexOf(CRLFCRLF);
      if (end === -1) {
        if (ex.upInbox.length > MAX_RESPONSE_HEAD) this.fail(c, ex, 502, "the upstream's response head is over 64 KiB");
        return;
      }
      const head = readResponseHead(ex.upInbox.toString("latin1", 0, end), ex.request.method);
      // What is wrong is the upstream's business; the client gets the answer the fetch path gives.
      if (head instanceof Error) return this.fail(c, ex, ...forwardingFailure.malformed());
      bytes = ex.upInbox;
      from = end + 4;
      ex.upInbox = null;
      if (head.status < 200) {
        // An interim response (103 Early Hints) is not passed on, as on the fetch path, which cannot;
        // the final one follows.
        if (head.status === 101) return this.fail(c, ex, ...forwardingFailure.malformed());
        if (from >= bytes.length) return;
        continue;
      }
      this.answer(c, ex, head);
      if (from >= bytes.length) {
        this.bodyProgress(c, ex);
        return this.releaseHead(c);
      }
    }
    this.relayBody(c, ex, bytes, from);
    this.releaseHead(c);
  }

  private answer(c: Connection, ex: Exchange, head: UpstreamResponseHead): void {
    this.waiting.delete(c);
    ex.response = head;
    // A request body the upstream did not wait for leaves the client mid-message: close after.
    if (head.framing.kind === "close" || ex.bodyLeft > 0) c.closeAfter = true;
    if (head.framing.kind === "length") ex.left = head.framing.bytes;
    if (head.framing.kind === "chunked") ex.chunks = new ChunkedScanner();
    // Head and body in one write: on loopback a second write costs the reader a second wake-up, and
    // it was most of the CPU per request (bench/proxy.ts).
    c.heldHead = `${head.statusLine}\r\n${head.block}x-request-id: ${ex.forward.requestId}\r\n${c.closeAfter ? "connection: close\r\n" : ""}\r\n`;
    this.record(c, ex, head.status);
  }

  /** The exchange's access record (metrics, log line), once its status is known. */
  private record(c: Connection, ex: Exchange, status: number): void {
    const seconds = (performance.now() - ex.started) / 1000;
    this.o.answered({ method: ex.request.method, path: ex.request.path, status, seconds, peer: c.peer, requestId: ex.forward.requestId });
  }

  /** Body bytes of the response, `bytes` from `from` on. */
  private relayBody(c: Connection, ex: Exchange, bytes: Buffer, from = 0): void {
    const framing = (ex.response as UpstreamResponseHead).framing;
    switch (framing.kind) {
      case "none":
        // Bytes after a bodiless response: the upstream's framing is off; do not reuse it.
        this.dropLink(c);
        return this.complete(c, ex);
      case "length": {
        const take = Math.min(ex.left, bytes.length - from);
        if (take > 0) this.toClient(c, bytes, from, from + take);
        ex.left -= take;
        if (from + take < bytes.length) this.dropLink(c);
        return this.bodyProgress(c, ex);
      }
      case "chunked": {
        const part = from === 0 ? bytes : bytes.subarray(from);
        const scanner = ex.chunks as ChunkedScanner;
        const n = scanner.scan(part);
        if (n < 0) return this.abort(c);
        if (n > 0) this.toClient(c, part, 0, n);
        if (n < part.length) this.dropLink(c);
        if (scanner.done) this.complete(c, ex);
        return;
      }
      case "close":
        this.toClient(c, bytes, from);
        return;
    }
  }

  private bodyProgress(c: Connection, ex: Exchange): void {
    const framing = (ex.response as UpstreamResponseHead).framing;
    if (framing.kind === "none" || (framing.kind === "length" && ex.left === 0)) this.complete(c, ex);
  }

  /** The response is out: the next pipelined request may go, or the connection ends. */
  private complete(c: Connection, ex: Exchange): void {
    if (c.exchange !== ex) return;
    this.releaseHead(c);
    c.exchange = undefined;
    const link = c.link;
    c.link = undefined;
    // A request body the upstream did not read whole, or bytes still queued for it, would be read
    // as the next request on that connection: it is reused only after a clean exchange.
    if (link) this.pool.release(link, !ex.response?.close && ex.bodyLeft === 0);
    if (c.closeAfter) {
      if (c.toClient.empty) this.close(c);
      return;
    }
    c.client.resume();
    this.pump(c);
  }

  /** `bytes` from `from` to `to` for the client, after the held response head if there is one. */
  private toClient(c: Connection, bytes: Buffer, from = 0, to = bytes.length): void {
    const head = c.heldHead;
    let sent: boolean;
    if (head !== undefined) {
      c.heldHead = undefined;
      const size = head.length + to - from;
      const out = size <= scratch.length ? scratch : Buffer.allocUnsafe(size);
      out.write(head, 0, "latin1");
      bytes.copy(out, head.length, from, to);
      sent = c.toClient.writeCopy(out, size);
    } else sent = c.toClient.write(from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to));
    if (!sent) c.link?.socket?.pause();
  }

  private releaseHead(c: Connection): void {
    const head = c.heldHead;
    if (head === undefined) return;
    c.heldHead = undefined;
    if (!c.toClient.write(NON_ASCII.test(head) ? Buffer.from(head, "latin1") : head)) c.link?.socket?.pause();
  }

  private upstreamClosed(c: Connection, link: Link): void {
    if (c.link !== link) return;
    c.link = undefined;
    const ex = c.exchange;
    if (!ex || c.closed) return;
    if (!ex.response) {
      // A kept-alive connection the upstream closed just as the request went out (its idle timeout
      // racing ours): try once more on a new one, when nothing but the head was sent and doing it
      // twice is harmless (an idempotent method, RFC 9110 §9.2.2). The upstream may have acted on it.
      if (ex.reused && !ex.retried && !ex.bodySent && IDEMPOTENT.has(ex.request.method)) {
        ex.retried = true;
        ex.reused = false;
        return this.send(c, ex);
      }
      return this.fail(c, ex, ...forwardingFailure.closed(`http://${this.o.upstream.host}`));
    }
    if (ex.response.framing.kind === "close") {
      c.closeAfter = true;
      return this.complete(c, ex);
    }
    // Mid-body: the client must see the response cut short, not a complete one.
    this.abort(c);
  }

  /** Closes the exchange's upstream connection rather than lend it again (its framing is off). */
  private dropLink(c: Connection): void {
    const link = c.link;
    c.link = undefined;
    if (link) this.pool.release(link, false);
  }

  /** Answers the exchange with the gateway's JSON error and ends the connection (its framing is lost). */
  private fail(c: Connection, ex: Exchange, status: number, message: string): void {
    this.waiting.delete(c);
    if (ex.linking) this.pool.cancel(c);
    this.dropLink(c);
    if (ex.response) return this.abort(c);
    c.closeAfter = true;
    this.toClient(c, errorAnswer(new HttpError(status, message), ex.forward.requestId));
    this.record(c, ex, status);
    this.complete(c, ex);
  }

  // --- handing a connection to the full gateway --------------------------------------------------

  private handOver(c: Connection): void {
    if (c.handedOver) return;
    c.handedOver = true;
    // The full gateway answers and closes it now: a forwarded request's `Connection: close` must not
    // end it at the client's next drain (cutting that answer short), nor a head that grew past the
    // limit in pieces earn it a 408 from the sweep.
    c.closeAfter = false;
    c.headSince = 0;
    this.reading.delete(c);
    c.serial = new OneAtATime();
    this.dropLink(c);
    c.client.pause();
    Bun.connect<Connection>({
      hostname: this.o.inner.hostname,
      port: this.o.inner.port,
      data: c,
      socket: {
        open: (s) => {
          // Registered before any byte is written, so the gateway knows the peer of the first request.
          this.o.handedOver(s.localPort, c.peer);
        },
        data: (s, data) => {
          if (c.closed) return;
          const next = (c.serial as OneAtATime).answered(data);
          if (!c.toClient.write(data)) s.pause();
          if (next || c.serial?.passingAll) this.relay(c);
        },
        drain: (s) => {
          if (c.inner === s && c.toInner.flush()) c.client.resume();
        },
        close: () => this.close(c),
        error: () => this.close(c),
      },
    }).then(
      (s) => {
        if (c.closed) return void s.end();
        c.inner = s;
        this.relay(c);
      },
      () => this.close(c),
    );
  }

  /** Passes what the client sent on to the full gateway, as far as the request in flight allows. */
  private relay(c: Connection): void {
    if (!c.inner) return;
    const pending = c.inbox;
    if (pending) {
      const n = (c.serial as OneAtATime).take(pending);
      if (n > 0) {
        c.inbox = rest(pending, n);
        if (!c.toInner.write(n === pending.length ? pending : pending.subarray(0, n))) return void c.client.pause();
      }
    }
    // Held bytes (the next requests) wait for the answer; past MAX_INBOX the client waits too.
    if (c.inbox && c.inbox.length > MAX_INBOX) c.client.pause();
    else c.client.resume();
    if (c.ended && !c.inbox) c.toInner.shutdown();
  }

  private abort(c: Connection): void {
    if (c.closed) return;
    c.client.terminate();
    this.close(c);
  }

  private close(c: Connection): void {
    if (c.closed) return;
    c.closed = true;
    this.connections.delete(c);
    this.waiting.delete(c);
    this.reading.delete(c);
    c.exchange = undefined;
    this.pool.cancel(c);
    this.dropLink(c);
    c.inner?.end();
    c.client.end();
  }
}

function append(inbox: Buffer | null, data: Buffer): Buffer {
  return inbox ? Buffer.concat([inbox, data]) : data;
}

function rest(buf: Buffer, from: number): Buffer | null {
  return from >= buf.length ? null : buf.subarray(from);
}
