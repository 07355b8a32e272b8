import type { BodyBuffering } from "../proxy/body-buffer.ts";
import type { PlainRequest } from "./request-head.ts";

// What the front door and the gateway behind it agree on: how the door is set up, what the gateway
// decides for a request, what the door reports of each forwarded one. Its own file so the door's
// parts (forwarder, hand-over, connection state) and the main thread share it without a cycle.

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
  /** Where request bodies are held until whole (memory, then a temporary file). */
  bodies: BodyBuffering;
  /** A client connection idle this long closes, and a request head must arrive within it. */
  idleTimeoutSeconds: number;
  /** Undefined hands the connection to the full gateway, which answers (or refuses) the request itself. */
  decide: (request: PlainRequest, peer: string) => Forward | undefined | Promise<Forward | undefined>;
  /** A connection is being handed over: the full gateway will see it come from `localPort` and must know its real peer. */
  handedOver: (localPort: number, peer: string) => void;
  /** A forwarded request has its response head (what the access log and metrics record). */
  answered: (f: Finished) => void;
}
