import type { TallySnapshot } from "../api/request-tally.ts";
import type { TokenAnswer } from "./answers.ts";
import type { Finished, FrontDoorOptions } from "./door-contract.ts";

// What the main thread and the front door's thread (front-worker.ts) say to each other.

export interface FrontWorkerOptions extends Omit<FrontDoorOptions, "decide" | "handedOver" | "answered" | "bodies"> {
  /** How request bodies are held (the budget as its shared memory: a class does not cross threads). */
  bodies: { memoryBytes: number; tempDir: string; budgetBytes: number; budgetMemory: SharedArrayBuffer };
  managementPaths: readonly string[];
  accessControl: boolean;
  maxBodyBytes: number;
  trustedProxies: readonly string[];
  /** One Int32: the registry's generation. */
  generation: SharedArrayBuffer;
  /** PeerSlots' memory. */
  peers: SharedArrayBuffer;
  /** Whether the main thread logs a line per request (it then gets each request's record). */
  accessLog: boolean;
}

export type ToFrontWorker =
  | { type: "start"; options: FrontWorkerOptions }
  | { type: "answer"; id: number; answer: string | TokenAnswer | null }
  | { type: "flush"; id: number }
  | { type: "stop" };

export type FromFrontWorker =
  | { type: "listening"; port: number }
  | { type: "failed"; message: string }
  | { type: "ask"; id: number; host: string }
  | { type: "ask"; id: number; authorization: string }
  | { type: "answered"; records: string }
  | { type: "counted"; tally: TallySnapshot }
  | { type: "flushed"; id: number; tally: TallySnapshot }
  | { type: "stopped" };

/**
 * Access records as one string, a line per request and its fields between tabs (none of them can
 * hold a tab or a line break: a plain request's method and path, an address, a request id). One
 * string crosses threads as one copy; a list of objects cost several microseconds per request.
 */
export function recordLine(f: Finished): string {
  return `${f.method}\t${f.path}\t${f.status}\t${f.seconds}\t${f.peer}\t${f.requestId}\n`;
}

export function* recordsOf(lines: string): Generator<Finished> {
  for (const line of lines.split("\n")) {
    if (line === "") continue;
    const [method = "", path = "", status, seconds, peer = "", requestId = ""] = line.split("\t");
    yield { method, path, status: Number(status), seconds: Number(seconds), peer, requestId };
  }
}
