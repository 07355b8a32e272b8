import type { Logger } from "pino";
import { workerEntry } from "../worker-entry.ts";
import type { TokenAnswer } from "./answers.ts";
import type { TallySnapshot } from "../api/request-tally.ts";
import type { Finished } from "./door-contract.ts";
import { recordsOf, type FromFrontWorker, type FrontWorkerOptions, type ToFrontWorker } from "./thread-messages.ts";
import { PeerSlots } from "./peer-slots.ts";

export interface FrontDoorThreadOptions {
  door: Omit<FrontWorkerOptions, "generation" | "peers">;
  /**
   * The registry's generation: `generation()` is the number now, `onChange` calls back each time it
   * moves (other processes' commits included, while anyone listens) until the returned function is called.
   */
  registry: { generation(): number; onChange(listener: (generation: number) => void): () => Promise<void> };
  /** The tenant a Host header names when it can serve now; null for anything else. */
  tenantOf: (host: string) => Promise<string | null>;
  /** Rejects when the token does not verify. */
  principal: (authorization: string) => Promise<TokenAnswer>;
  /** Requests the front door answered, counted by its thread (every second, at each scrape, and when it stops). */
  counted: (tally: TallySnapshot) => void;
  /** Each request the front door answered, when `door.accessLog` is on. */
  logged: (f: Finished) => void;
  log: Logger;
}

/** Wait before starting a front door whose thread died (and between attempts). */
const RESTART_MS = 500;
/** A scrape waits this long at most for the front door's records. */
const FLUSH_WAIT_MS = 1000;
/** Closing waits this long at most for the front door to close its connections. */
const STOP_WAIT_MS = 2000;

/**
 * The front door, run on a thread of its own (front-worker.ts), as seen from the main thread: starts
 * it, answers its questions about hosts and tokens, takes its access records, tells it when the
 * registry's generation moves, and starts it again on the same port if the thread dies.
 */
export class FrontDoorThread {
  readonly peers = new PeerSlots();
  private readonly generation = new Int32Array(new SharedArrayBuffer(4));
  private worker?: Worker;
  private listening: number;
  private stopping = false;
  private readonly unlisten: () => Promise<void>;
  private flushes = 0;
  private readonly flushing = new Map<number, () => void>();
  private onStarted?: { resolve: (port: number) => void; reject: (err: Error) => void };
  private onStopped?: () => void;

  constructor(private readonly o: FrontDoorThreadOptions) {
    this.listening = o.door.port;
    // Told at once: answers from before a change are stale for the very next request.
    this.unlisten = o.registry.onChange((generation) => this.publish(generation));
  }

  /** The port the front door listens on (the configured one until it has started). */
  get port(): number {
    return this.listening;
  }

  /** Resolves with the listening port once the thread listens; rejects if it cannot (the port is taken). */
  async start(): Promise<number> {
    this.publish(this.o.registry.generation());
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    this.onStarted = { resolve, reject };
    const worker = (this.worker = new Worker(workerEntry("front/front-worker.ts")));
    worker.addEventListener("message", (event: MessageEvent<FromFrontWorker>) => this.received(worker, event.data));
    worker.addEventListener("error", (event) => this.died(worker, event.message));
    worker.addEventListener("close", () => this.died(worker, "the thread exited"));
    this.send({ type: "start", options: { ...this.o.door, port: this.listening, generation: this.generation.buffer as SharedArrayBuffer, peers: this.peers.buffer } });
    return promise;
  }

  /** The generation the front door's thread compares its answers against. */
  private publish(generation: number): void {
    Atomics.store(this.generation, 0, generation);
  }

  /** Resolves once the counts and records the front door holds have been handed over (before a scrape). */
  flush(): Promise<void> {
    if (!this.worker || this.onStarted) return Promise.resolve();
    const id = ++this.flushes;
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, FLUSH_WAIT_MS);
    this.flushing.set(id, () => {
      clearTimeout(timer);
      resolve();
    });
    this.send({ type: "flush", id });
    return promise;
  }

  /** Stops listening, closes the front door's connections and ends the thread. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.unlisten();
    const worker = this.worker;
    if (!worker) return;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.onStopped = resolve;
    // A thread that does not answer (stuck, or gone) is ended anyway.
    const timer = setTimeout(resolve, STOP_WAIT_MS);
    this.send({ type: "stop" });
    await promise;
    clearTimeout(timer);
    worker.terminate();
    this.worker = undefined;
    this.endFlushes();
  }

  private send(message: ToFrontWorker): void {
    this.worker?.postMessage(message);
  }

  private received(worker: Worker, m: FromFrontWorker): void {
    if (worker !== this.worker) return;
    try {
      switch (m.type) {
        case "listening":
          this.listening = m.port;
          this.onStarted?.resolve(m.port);
          this.onStarted = undefined;
          return;
        case "failed":
          this.onStarted?.reject(new Error(`the front door cannot listen on ${this.o.door.hostname}:${this.listening}: ${m.message}`));
          this.onStarted = undefined;
          this.worker = undefined;
          worker.terminate();
          return;
        case "ask":
          if ("host" in m) {
            void this.tenantOf(m.host).then((answer) => this.send({ type: "answer", id: m.id, answer }));
            return;
          }
          this.o.principal(m.authorization).then(
            (answer) => this.send({ type: "answer", id: m.id, answer }),
            () => this.send({ type: "answer", id: m.id, answer: null }),
          );
          return;
        case "answered":
          for (const f of recordsOf(m.records)) this.o.logged(f);
          return;
        case "counted":
          return this.o.counted(m.tally);
        case "flushed":
          this.o.counted(m.tally);
          this.flushing.get(m.id)?.();
          this.flushing.delete(m.id);
          return;
        case "stopped":
          this.onStopped?.();
          return;
      }
    } catch (err) {
      this.o.log.error({ err }, "front door message failed");
    }
  }

  private async tenantOf(host: string): Promise<string | null> {
    try {
      return await this.o.tenantOf(host);
    } catch (err) {
      this.o.log.error({ err, host }, "front door could not map a host; the request goes to the full gateway");
      return null;
    }
  }

  /** The thread ended without being asked to: whatever it held is gone; a new one listens again. */
  private died(worker: Worker, reason: string): void {
    if (worker !== this.worker || this.stopping) return;
    this.worker = undefined;
    worker.terminate();
    this.endFlushes();
    const starting = this.onStarted;
    this.onStarted = undefined;
    if (starting) return starting.reject(new Error(`the front door's thread failed to start: ${reason}`));
    this.o.log.error({ reason }, "the front door's thread died; starting it again");
    const retry = () => {
      if (this.stopping) return;
      this.start().catch((err) => {
        this.o.log.error({ err }, "the front door could not start again; retrying");
        setTimeout(retry, RESTART_MS).unref();
      });
    };
    setTimeout(retry, RESTART_MS).unref();
  }

  private endFlushes(): void {
    for (const done of this.flushing.values()) done();
    this.flushing.clear();
  }
}
