import { HttpError } from "../http-error.ts";
import { BodyBuffer, type BodyBuffering } from "../proxy/body-buffer.ts";
import { forwardingFailure, upstreamHostHeader, upstreamRequestTarget } from "../proxy/policy.ts";
import {
  append,
  BETWEEN_REQUESTS,
  bodyStarted,
  BUFFERING,
  CLOSING,
  LINKING,
  linkOf,
  MAX_INBOX,
  rest,
  type Answering,
  type ClientConnection,
  type ClientState,
  type Exchange,
  type Link,
  type Sent,
} from "./client-connection.ts";
import { errorAnswer } from "./error-answer.ts";
import type { Forward, FrontDoorOptions } from "./door-contract.ts";
import type { PlainRequest } from "./request-head.ts";
import { ChunkedScanner, CRLFCRLF, MAX_RESPONSE_HEAD, readResponseHead, type UpstreamResponseHead } from "./response-head.ts";
import { UpstreamPool } from "./upstream-pool.ts";

export interface ForwarderOptions extends Pick<FrontDoorOptions, "upstream" | "timeoutMs" | "upstreamIdleMs" | "upstreamConnections" | "answered"> {
  /** Where request bodies are held until whole (memory, then a temporary file). */
  bodies: BodyBuffering;
  /** The answer is written (the connection is closing, or between requests): what comes next is the connection's. */
  afterAnswer(c: ClientConnection): void;
  /** The client must see the response cut short: its connection is reset. */
  abort(c: ClientConnection): void;
}

const NON_ASCII = /[^\x00-\x7f]/;
const notStored = (err: NodeJS.ErrnoException) => forwardingFailure.bodyNotStored(err.code ?? err.message);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
/**
 * Where heads are put together before they go out: a write hands its bytes to the kernel at once,
 * or the outbox copies what must wait, so one buffer serves every connection of this thread and no
 * request allocates one.
 */
const scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Carries the front door's exchanges to the upstream and back: the head rewritten, the body and the
 * response passed as they come, over a connection the pool lends for each exchange. What it cannot
 * carry it answers with the gateway's error, as the fetch path would.
 */
export class Forwarder {
  /** Connections whose request awaits the upstream's response head. */
  private readonly waiting = new Set<ClientConnection>();
  private readonly pool: UpstreamPool<ClientConnection>;

  constructor(private readonly o: ForwarderOptions) {
    this.pool = new UpstreamPool<ClientConnection>({
      hostname: o.upstream.hostname,
      port: o.upstream.port,
      max: o.upstreamConnections,
      idleMs: o.upstreamIdleMs,
      data: (c, link, data) => this.fromUpstream(c, link, data),
      drained: (c, link) => {
        const ex = c.state;
        if (ex.phase === "forwarding" && ex.upstream.step === "sent" && ex.upstream.link === link) this.sendBody(c, ex, ex.upstream);
      },
      closed: (c, link) => this.upstreamClosed(c, link),
    });
  }

  start(c: ClientConnection, request: PlainRequest, headEnd: number, forward: Forward): void {
    const inbox = c.inbox as Buffer;
    const length = request.contentLength;
    const ex: Exchange = {
      phase: "forwarding",
      request,
      forward,
      source: inbox,
      started: performance.now(),
      bodyLeft: length,
      body: length > 0 ? new BodyBuffer(this.o.bodies, length) : undefined,
      bodySent: 0,
      retried: false,
      deadline: performance.now() + this.o.timeoutMs,
      upstream: BUFFERING,
      closeAfter: request.close,
    };
    c.inbox = rest(inbox, headEnd + 4);
    c.state = ex;
    this.waiting.add(c);
    if (length === 0) this.link(c, ex);
    else this.takeBody(c, ex);
  }

  /** More bytes from the client while its exchange is in flight: the body, or pipelined requests that wait. */
  fromClient(c: ClientConnection, ex: Exchange): void {
    if (ex.bodyLeft > 0) this.takeBody(c, ex);
    if (c.inbox && c.inbox.length > MAX_INBOX) c.client.pause();
  }

  /** One timer for every exchange still waiting for its response head (a timer per request cost ~1 µs). */
  sweep(now: number): void {
    for (const c of this.waiting) {
      const ex = c.state;
      if (ex.phase !== "forwarding" || ex.upstream.step === "answering") this.waiting.delete(c);
      else if (ex.deadline > now) continue;
      // The clock restarts with each body chunk: a body still owed means the client stopped sending.
      else if (ex.bodyLeft > 0) this.fail(c, ex, ...forwardingFailure.bodyStalled(this.o.timeoutMs));
      else this.fail(c, ex, ...forwardingFailure.timeout(this.o.timeoutMs));
    }
  }

  /**
   * The connection closed in phase `was`: everything the exchange held goes at once (its upstream
   * connection or its place in the pool's queue, its body's memory and file). An exchange the client
   * left before its answer is recorded as nginx does, 499.
   */
  forget(c: ClientConnection, was: ClientState): void {
    this.waiting.delete(c);
    this.pool.cancel(c);
    if (was.phase !== "forwarding") return;
    this.letGoOfBody(was);
    const link = linkOf(was);
    if (link) this.pool.release(link, false);
    if (was.upstream.step !== "answering") this.record(c, was, forwardingFailure.clientGone()[0]);
  }

  stop(): void {
    this.pool.stop();
  }

  /**
   * Moves the client's body bytes into the exchange's buffer. The body arrives whole before an
   * upstream connection is taken (policy.ts): a slow upload holds none of the connections other
   * clients need, whatever its size.
   */
  private takeBody(c: ClientConnection, ex: Exchange): void {
    const inbox = c.inbox;
    const body = ex.body;
    if (!inbox || !body) return;
    const take = Math.min(ex.bodyLeft, inbox.length);
    c.inbox = rest(inbox, take);
    ex.bodyLeft -= take;
    // The clock restarts with each chunk: a slow upload that keeps moving is never cut.
    ex.deadline = performance.now() + this.o.timeoutMs;
    if (!body.write(take === inbox.length ? inbox : inbox.subarray(0, take))) {
      // The body's file is behind the client: the client waits for the disk.
      c.client.pause();
      void body.whenWritable().then(() => {
        if (c.state === ex && ex.bodyLeft > 0) c.client.resume();
      });
    }
    // A file that failed (a full disk) fails the request now, not after the rest of the upload.
    if (body.error) return this.fail(c, ex, ...notStored(body.error));
    if (ex.bodyLeft > 0) return;
    if (!body.inFile) return this.link(c, ex);
    body.stored().then(
      () => {
        if (c.state === ex) this.link(c, ex);
      },
      (err: Error) => {
        if (c.state === ex) this.fail(c, ex, ...notStored(err));
      },
    );
  }

  /** The body is whole (or there is none): an upstream connection from the pool, then the head and the body. */
  private link(c: ClientConnection, ex: Exchange): void {
    ex.deadline = performance.now() + this.o.timeoutMs;
    ex.upstream = LINKING;
    this.pool.acquire(c, (link, failure) => this.linked(c, ex, link, failure));
  }

  private linked(c: ClientConnection, ex: Exchange, link: Link | undefined, failure?: Error): void {
    if (c.state !== ex) {
      if (link) this.pool.release(link, true);
      return;
    }
    if (!link) {
      // The fetch path's answer to the same event, in its words (fetch and Bun.connect name the errno alike).
      const code = (failure as NodeJS.ErrnoException | undefined)?.code ?? "connection failed";
      return this.fail(c, ex, ...forwardingFailure.unreachable(`http://${this.o.upstream.host}`, code));
    }
    const sent: Sent = { step: "sent", link, inbox: null, reading: false };
    ex.upstream = sent;
    ex.deadline = performance.now() + this.o.timeoutMs;
    link.out.writeCopy(...this.upstreamHead(c, ex));
    this.sendBody(c, ex, sent);
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

  /**
   * Hands the held body to the upstream connection: all at once from memory; from a file a piece at
   * a time, the next when the connection has taken the last (`drained`).
   */
  private sendBody(c: ClientConnection, ex: Exchange, sent: Sent): void {
    const body = ex.body;
    if (!body || sent.reading || ex.bodySent >= body.size) return;
    const { link } = sent;
    const bytes = body.bytes;
    if (bytes) {
      ex.bodySent = bytes.length;
      link.out.write(bytes);
      return;
    }
    sent.reading = true;
    body.read(ex.bodySent).then(
      (chunk) => {
        sent.reading = false;
        if (c.state !== ex || ex.upstream !== sent) return;
        ex.bodySent += chunk.length;
        // The upstream cannot answer before it has the body: while it takes it, the clock restarts.
        ex.deadline = performance.now() + this.o.timeoutMs;
        if (link.out.write(chunk)) this.sendBody(c, ex, sent);
      },
      (err: Error) => {
        sent.reading = false;
        if (c.state === ex && ex.upstream === sent) this.fail(c, ex, ...notStored(err));
      },
    );
  }

  // --- from the upstream -------------------------------------------------------------------------

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
    if (head.framing.kind === "close") ex.closeAfter = true;
    // Answered: the request is not sent again, and a body the upstream did not wait for is not sent on.
    this.letGoOfBody(ex);
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
        if (n < 0) return this.o.abort(c);
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
    if (link) this.pool.release(link, !answering.response.close && ex.bodySent === ex.request.contentLength);
    this.o.afterAnswer(c);
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
        return this.link(c, ex);
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
    this.o.abort(c);
  }

  private letGoOfBody(ex: Exchange): void {
    ex.body?.dispose();
    ex.body = undefined;
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
    this.letGoOfBody(ex);
    const up = ex.upstream;
    if (up.step === "linking") this.pool.cancel(c);
    else if (up.step === "sent") this.pool.release(up.link, false);
    else if (up.step === "answering") {
      this.dropLink(up);
      return this.o.abort(c);
    }
    this.failUnanswered(c, ex, status, message);
  }

  /** `fail` once the exchange holds no upstream connection and nothing of a response was written. */
  private failUnanswered(c: ClientConnection, ex: Exchange, status: number, message: string): void {
    this.waiting.delete(c);
    this.letGoOfBody(ex);
    c.toClient.write(errorAnswer(new HttpError(status, message), ex.forward.requestId));
    this.record(c, ex, status);
    c.state = CLOSING;
    this.o.afterAnswer(c);
  }
}
