import { MAX_INBOX, rest, type ClientConnection, type HandedOver } from "./client-connection.ts";
import { OneAtATime } from "./one-at-a-time.ts";
import { Outbox } from "./outbox.ts";

export interface FullGatewayOptions {
  hostname: string;
  port: number;
  /** A connection is being handed over: the full gateway will see it come from `localPort` and must know its real peer. */
  handedOver: (localPort: number, peer: string) => void;
  /** The full gateway's side closed (or could not be opened): the client connection ends. */
  innerClosed: (c: ClientConnection) => void;
  /** The client shut its side with a request that can never be whole: the client has gone. */
  abandoned: (c: ClientConnection) => void;
}

/**
 * The full gateway's HTTP server behind the front door, as the front door hands it connections: the
 * client's bytes go to it unchanged (one request at a time) and its answers back, and the front door
 * reads nothing more of them than their framing.
 */
export class FullGateway {
  constructor(private readonly o: FullGatewayOptions) {}

  handOver(c: ClientConnection): void {
    const h: HandedOver = { phase: "handed-over", serial: new OneAtATime(), inner: undefined, toInner: new Outbox(() => h.inner) };
    c.state = h;
    c.client.pause();
    Bun.connect<ClientConnection>({
      hostname: this.o.hostname,
      port: this.o.port,
      data: c,
      socket: {
        open: (s) => {
          // Registered before any byte is written, so the gateway knows the peer of the first request.
          this.o.handedOver(s.localPort, c.peer);
        },
        data: (s, data) => {
          if (c.state.phase === "closed") return;
          const next = h.serial.answered(data);
          if (!c.toClient.write(data)) s.pause();
          if (next || h.serial.passingAll) this.relay(c, h);
        },
        drain: (s) => {
          if (h.inner === s && h.toInner.flush()) c.client.resume();
        },
        close: () => this.o.innerClosed(c),
        error: () => this.o.innerClosed(c),
      },
    }).then(
      (s) => {
        if (c.state.phase === "closed") return void s.end();
        h.inner = s;
        this.relay(c, h);
      },
      () => this.o.innerClosed(c),
    );
  }

  /** Passes what the client sent on to the full gateway, as far as the request in flight allows. */
  relay(c: ClientConnection, h: HandedOver): void {
    if (!h.inner) return;
    const pending = c.inbox;
    let backedUp = false;
    if (pending) {
      const n = h.serial.take(pending);
      if (n > 0) {
        c.inbox = rest(pending, n);
        backedUp = !h.toInner.write(n === pending.length ? pending : pending.subarray(0, n));
      }
    }
    // Held bytes (the next requests) wait for the answer; past MAX_INBOX the client waits too.
    if (backedUp || (c.inbox && c.inbox.length > MAX_INBOX)) c.client.pause();
    else c.client.resume();
    if (c.ended) this.clientDone(c, h);
  }

  /**
   * The client shut its side (FIN). Bun.serve (1.4.5) takes a FIN as the client gone: it aborts a
   * request whose answer is pending and closes, so the client of a half-close would lose its answer.
   * The FIN therefore goes on only once no answer is pending; a request that can never be whole (its
   * body or head cut short by the FIN) ends the connection at once, with what was held for it. Where
   * the framing is not followed, the FIN goes on as it comes.
   */
  private clientDone(c: ClientConnection, h: HandedOver): void {
    const serial = h.serial;
    if (serial.passingAll) {
      if (!c.inbox) h.toInner.shutdown();
    } else if (serial.awaitingAnswer) {
      // `relay` runs again when the answer is complete.
    } else if (c.inbox || serial.midRequest) this.o.abandoned(c);
    else h.toInner.shutdown();
  }
}
