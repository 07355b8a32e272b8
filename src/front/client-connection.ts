import type { Socket } from "bun";
import type { BodyBuffer } from "../proxy/body-buffer.ts";
import type { Forward } from "./door-contract.ts";
import type { OneAtATime } from "./one-at-a-time.ts";
import { Outbox } from "./outbox.ts";
import type { PlainRequest } from "./request-head.ts";
import type { ChunkedScanner, UpstreamResponseHead } from "./response-head.ts";
import type { UpstreamLink } from "./upstream-pool.ts";

export type Link = UpstreamLink<ClientConnection>;

/**
 * A client connection of the front door. Where it is (between requests, waiting for the gateway's
 * decision, forwarding a request, handed over, closing) is its one `state`, which carries what
 * belongs to that phase: nothing is left over from an earlier one, and moving on is one assignment.
 */
export interface ClientConnection {
  readonly client: Socket<ClientConnection>;
  /** The client's address, as the upstream and the full gateway are told it. */
  readonly peer: string;
  /** What the client sent that nothing has taken yet: a head, body bytes, the next requests. */
  inbox: Buffer | null;
  /** The client shut its side (FIN): no more requests will come. It may come in any phase. */
  ended: boolean;
  readonly toClient: Outbox<ClientConnection>;
  state: ClientState;
}

export type ClientState = ReadingHead | Deciding | Exchange | HandedOver | Closing | Closed;

/** Between requests: the next head, if any, is arriving. */
export interface ReadingHead {
  readonly phase: "reading-head";
  /** When the first bytes of a head still incomplete arrived (0: none pending). */
  readonly since: number;
}

/** A whole plain head waits for the gateway's decision; the client is not read meanwhile. */
export interface Deciding {
  readonly phase: "deciding";
}

/** One request in flight through the front door, from its head to the end of the response body. */
export interface Exchange {
  readonly phase: "forwarding";
  readonly request: PlainRequest;
  readonly forward: Forward;
  /** The client's own bytes the head was read from: its kept lines go to the upstream as they are. */
  readonly source: Buffer;
  readonly started: number;
  /** Request body bytes still to come from the client. */
  bodyLeft: number;
  /** The request body, held whole before an upstream connection is taken (undefined: none, or let go). */
  body: BodyBuffer | undefined;
  /** Body bytes handed to the upstream connection. */
  bodySent: number;
  /** Sent once more already, after a kept-alive upstream connection closed under it. */
  retried: boolean;
  /** When the body, the upstream connection or the response head is overdue (performance.now() time). */
  deadline: number;
  /** The client connection ends once this response is out. */
  closeAfter: boolean;
  upstream: UpstreamStep;
}

/** How far an exchange has gone with the upstream. */
export type UpstreamStep = Buffering | Linking | Sent | Answering;

/** The body is arriving, or being stored, before an upstream connection is taken (policy.ts). */
export interface Buffering {
  readonly step: "buffering";
}

/** An upstream connection has been asked of the pool and not yet given. */
export interface Linking {
  readonly step: "linking";
}

/** The head went out on `link`, the body follows from where it is held; the response head has not come yet. */
export interface Sent {
  readonly step: "sent";
  readonly link: Link;
  /** What the upstream sent that is not read yet: the response head so far. */
  inbox: Buffer | null;
  /** A piece of a file-held body is being read for the connection. */
  reading: boolean;
}

/** The response head is in; its body goes to the client as it comes. */
export interface Answering {
  readonly step: "answering";
  /** Undefined once closed or given back before the end of the exchange (its framing was off). */
  link: Link | undefined;
  readonly response: UpstreamResponseHead;
  /** Body bytes still to come (length framing). */
  left: number;
  readonly chunks: ChunkedScanner | undefined;
  /** The response head (latin1) not yet written: it goes out with the first body bytes, in one write. */
  heldHead: string | undefined;
}

/** Given to the full gateway's HTTP server, which answers it from now on: the front door only passes bytes. */
export interface HandedOver {
  readonly phase: "handed-over";
  /** Which of the client's bytes may go to the full gateway yet (one request at a time). */
  readonly serial: OneAtATime;
  /** The connection to the full gateway, once open. */
  inner: Socket<ClientConnection> | undefined;
  readonly toInner: Outbox<ClientConnection>;
}

/** The last answer is written, some of it still queued: the connection ends once the client has it. */
export interface Closing {
  readonly phase: "closing";
}

export interface Closed {
  readonly phase: "closed";
}

// The phases and steps that carry nothing are one object each: moving to them allocates nothing.
export const BETWEEN_REQUESTS: ReadingHead = { phase: "reading-head", since: 0 };
export const DECIDING: Deciding = { phase: "deciding" };
export const CLOSING: Closing = { phase: "closing" };
export const CLOSED: Closed = { phase: "closed" };
export const BUFFERING: Buffering = { step: "buffering" };
export const LINKING: Linking = { step: "linking" };

export function newConnection(client: Socket<ClientConnection>): ClientConnection {
  const c: ClientConnection = {
    client,
    peer: client.remoteAddress ?? "",
    inbox: null,
    ended: false,
    toClient: new Outbox(() => (c.state.phase === "closed" ? undefined : c.client)),
    state: BETWEEN_REQUESTS,
  };
  return c;
}

/** The upstream connection the exchange holds, if it holds one. */
export function linkOf(ex: Exchange): Link | undefined {
  const up = ex.upstream;
  return up.step === "sent" || up.step === "answering" ? up.link : undefined;
}

/** Some of the request body went to the upstream: the request is no longer sent again. */
export function bodyStarted(ex: Exchange): boolean {
  return ex.bodySent > 0;
}

/** Pipelined bytes held while a request is in flight before the client is made to wait. */
export const MAX_INBOX = 256 * 1024;

export function append(inbox: Buffer | null, data: Buffer): Buffer {
  return inbox ? Buffer.concat([inbox, data]) : data;
}

export function rest(buf: Buffer, from: number): Buffer | null {
  return from >= buf.length ? null : buf.subarray(from);
}
