import type { Socket } from "bun";
import { Outbox } from "./outbox.ts";

/**
 * One connection to the upstream. It is lent to one exchange at a time; the bytes queued for it
 * (its outbox) are its own and end with it, so nothing meant for one connection is ever written
 * to another.
 */
export interface UpstreamLink<Owner> {
  socket?: Socket<UpstreamLink<Owner>>;
  out: Outbox<UpstreamLink<Owner>>;
  /** The exchange's connection it is lent to; undefined while idle. */
  owner?: Owner;
  /** Exchanges it carried before the current one (a reused connection may be closing). */
  uses: number;
  idleSince: number;
  closed: boolean;
}

export interface UpstreamPoolOptions<Owner> {
  hostname: string;
  port: number;
  /** Most connections open at once, lent and idle together; exchanges beyond it wait for one. */
  max: number;
  /** An idle connection older than this is closed, not lent: the upstream may be closing it. */
  idleMs: number;
  data(owner: Owner, link: UpstreamLink<Owner>, data: Buffer): void;
  drained(owner: Owner, link: UpstreamLink<Owner>): void;
  /** The link closed while lent (the owner decides what its exchange becomes). */
  closed(owner: Owner, link: UpstreamLink<Owner>): void;
}

/** A link, or undefined and why when no connection could be opened. */
type Ready<Owner> = (link: UpstreamLink<Owner> | undefined, failure?: Error) => void;

/**
 * The front door's connections to the upstream, shared by all client connections of its thread and
 * bounded: a client connection holds one only while its exchange is in flight, so idle keep-alive
 * clients hold none. `ready` gets undefined (and the error) when no connection could be opened.
 */
export class UpstreamPool<Owner> {
  private readonly idle: UpstreamLink<Owner>[] = [];
  private readonly waiting: { owner: Owner; ready: Ready<Owner> }[] = [];
  private open = 0;

  constructor(private readonly o: UpstreamPoolOptions<Owner>) {
    if (!Number.isInteger(o.max) || o.max < 1) throw new Error(`the upstream pool needs at least one connection, not ${o.max}`);
  }

  /** Connections open or opening (lent and idle). */
  get size(): number {
    return this.open;
  }

  get idleCount(): number {
    return this.idle.length;
  }

  acquire(owner: Owner, ready: Ready<Owner>): void {
    const now = performance.now();
    for (let link = this.idle.pop(); link; link = this.idle.pop()) {
      if (now - link.idleSince > this.o.idleMs) {
        this.discard(link);
        continue;
      }
      link.owner = owner;
      return ready(link);
    }
    if (this.open < this.o.max) return this.connect(owner, ready);
    this.waiting.push({ owner, ready });
  }

  /** Forgets an owner still waiting for a connection (its client went away). */
  cancel(owner: Owner): void {
    const i = this.waiting.findIndex((w) => w.owner === owner);
    if (i !== -1) this.waiting.splice(i, 1);
  }

  /**
   * Takes a link back. Only a link whose exchange ended cleanly (framing intact, nothing left
   * queued for it) is lent again; any other is closed.
   */
  release(link: UpstreamLink<Owner>, reusable: boolean): void {
    link.owner = undefined;
    if (!reusable || link.closed || !link.socket || !link.out.empty) {
      this.discard(link);
      return this.serveWaiting();
    }
    link.uses++;
    link.idleSince = performance.now();
    // It may have been paused for a slow client; its next owner reads from it.
    link.socket.resume();
    const next = this.waiting.shift();
    if (next) {
      link.owner = next.owner;
      return next.ready(link);
    }
    this.idle.push(link);
  }

  stop(): void {
    this.waiting.length = 0;
    for (const link of this.idle.splice(0)) this.discard(link);
  }

  private discard(link: UpstreamLink<Owner>): void {
    link.owner = undefined;
    if (!link.closed) {
      link.closed = true;
      this.open--;
    }
    link.socket?.end();
  }

  private serveWaiting(): void {
    while (this.open < this.o.max && this.waiting.length > 0) {
      const next = this.waiting.shift() as { owner: Owner; ready: Ready<Owner> };
      this.connect(next.owner, next.ready);
    }
  }

  private connect(owner: Owner, ready: Ready<Owner>): void {
    this.open++;
    const link: UpstreamLink<Owner> = { out: new Outbox(() => (link.closed ? undefined : link.socket)), owner, uses: 0, idleSince: 0, closed: false };
    Bun.connect<UpstreamLink<Owner>>({
      hostname: this.o.hostname,
      port: this.o.port,
      data: link,
      socket: {
        data: (s, data) => {
          if (link.owner !== undefined) this.o.data(link.owner, link, data);
          // Bytes nobody asked for: the connection's framing can no longer be trusted.
          else this.gone(link, s);
        },
        drain: () => {
          if (link.out.flush() && link.owner !== undefined) this.o.drained(link.owner, link);
        },
        close: (s) => this.gone(link, s),
        error: (s) => this.gone(link, s),
      },
    }).then(
      (socket) => {
        link.socket = socket;
        if (link.closed) return void socket.end();
        if (link.owner === undefined) return this.release(link, true);
        ready(link);
      },
      (err: Error) => {
        if (!link.closed) {
          link.closed = true;
          this.open--;
        }
        ready(undefined, err);
        this.serveWaiting();
      },
    );
  }

  private gone(link: UpstreamLink<Owner>, socket: Socket<UpstreamLink<Owner>>): void {
    const owner = link.owner;
    const i = this.idle.indexOf(link);
    if (i !== -1) this.idle.splice(i, 1);
    if (!link.closed) {
      link.closed = true;
      this.open--;
    }
    socket.end();
    link.owner = undefined;
    if (owner !== undefined) this.o.closed(owner, link);
    this.serveWaiting();
  }
}
