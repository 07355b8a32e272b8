// The front door's own thread. Its heap holds little more than the connections in flight, so its
// garbage collections are short: on the main thread, beside the control plane, the tenant files
// and the HTTP framework, every young-generation collection paused the forwarding for 1-2 ms and
// set the p99 (docs/benchmarks.md). What only the main thread knows (which tenant a host names,
// whom a token speaks for) it asks once and keeps while the registry's generation stands.
import { RequestTally } from "../api/request-tally.ts";
import { routeClass } from "../gateway-paths.ts";
import { createFastLane } from "./fast-lane.ts";
import { BodyBudget } from "../proxy/body-budget.ts";
import { TrustedProxies } from "../tenancy/trusted-proxies.ts";
import { Answers, type TokenAnswer } from "./answers.ts";
import { FrontDoor } from "./front-door.ts";
import { PeerSlots } from "./peer-slots.ts";
import { recordLine, type FromFrontWorker, type FrontWorkerOptions, type ToFrontWorker } from "./thread-messages.ts";

/** Access records wait this long at most before going to the main thread, in one message. */
const RECORDS_EVERY_MS = 25;
/** Counts go to the main thread at least this often (and at each scrape): a thread that dies loses at most this much. */
const COUNTS_EVERY_MS = 1000;

declare const self: Worker;
const post = (message: FromFrontWorker) => self.postMessage(message);

let door: FrontDoor | undefined;
let records = "";
const tally = new RequestTally();
let recordsTimer: ReturnType<typeof setTimeout> | undefined;
let countsTimer: ReturnType<typeof setInterval> | undefined;
let asked = 0;
const waiting = new Map<number, (answer: unknown) => void>();

function ask<T>(question: { host: string } | { authorization: string }): Promise<T> {
  const id = ++asked;
  const { promise, resolve } = Promise.withResolvers<T>();
  waiting.set(id, resolve as (answer: unknown) => void);
  post({ type: "ask", id, ...question });
  return promise;
}

function flushRecords(): void {
  clearTimeout(recordsTimer);
  recordsTimer = undefined;
  if (records === "") return;
  post({ type: "answered", records });
  records = "";
}

/** Every record and count held here, to the main thread; `flushed` with `id` says they have all gone. */
function handOverAll(id: number): void {
  flushRecords();
  post({ type: "flushed", id, tally: tally.take() });
}

function start(o: FrontWorkerOptions): void {
  const answers = new Answers(new Int32Array(o.generation), {
    tenantOf: (host) => ask<string | null>({ host }),
    principal: (authorization) => ask<TokenAnswer | null>({ authorization }),
  });
  const peers = new PeerSlots(o.peers);
  const budget = new BodyBudget(o.bodies.budgetBytes, o.bodies.budgetMemory, "front");
  // What a thread before this one held died with it.
  budget.resetSlot("front");
  door = new FrontDoor({
    ...o,
    bodies: { memoryBytes: o.bodies.memoryBytes, tempDir: o.bodies.tempDir, budget },
    decide: createFastLane({
      managementPaths: o.managementPaths,
      accessControl: o.accessControl,
      maxBodyBytes: o.maxBodyBytes,
      trustedProxies: new TrustedProxies(o.trustedProxies),
      tenantOf: (host) => answers.tenantOf(host),
      principal: (authorization) => answers.principal(authorization),
    }),
    handedOver: (localPort, peer) => peers.write(localPort, peer),
    answered: (f) => {
      // Counted here and handed over every second and at each scrape; the log needs every record.
      tally.observe(routeClass(f.path, f.status), f.status, f.seconds);
      if (!o.accessLog) return;
      records += recordLine(f);
      recordsTimer ??= setTimeout(flushRecords, RECORDS_EVERY_MS);
    },
  });
  countsTimer = setInterval(() => {
    if (tally.counts.size > 0) post({ type: "counted", tally: tally.take() });
  }, COUNTS_EVERY_MS);
  try {
    post({ type: "listening", port: door.listen() });
  } catch (err) {
    post({ type: "failed", message: (err as Error).message });
  }
}

self.onmessage = (event: MessageEvent<ToFrontWorker>) => {
  const m = event.data;
  switch (m.type) {
    case "start":
      return start(m.options);
    case "answer": {
      const resolve = waiting.get(m.id);
      waiting.delete(m.id);
      return resolve?.(m.answer);
    }
    case "flush":
      return handOverAll(m.id);
    case "stop":
      clearInterval(countsTimer);
      door?.stop();
      handOverAll(0);
      for (const resolve of waiting.values()) resolve(null);
      waiting.clear();
      return post({ type: "stopped" });
  }
};
