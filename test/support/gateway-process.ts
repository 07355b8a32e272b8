// A gateway as its own process, for tests that look at it from outside (its descriptors in
// /proc/<pid>/fd) or load it as a client would: `serve --dev` over a temp data dir holding tenant
// acme, with a dev token for acme's organization, and raw client sockets opened many at a time.
import { afterAll, beforeAll } from "bun:test";
import { readdirSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { cli, removeDir, serve, tempDir, type Served } from "../cli/spawn.ts";
import { startRecordingUpstream, type RecordingUpstream } from "./proxy-upstream.ts";

export interface GatewayProcess {
  served: Served;
  port: number;
  pid: number;
  dataDir: string;
  /** A dev token for acme's organization: it may write acme's management API. */
  token: string;
  /** Descriptors the process has open now. */
  descriptors(): number;
  stop(): Promise<void>;
}

/** `serve` over `dataDir` (a new temp dir unless given; removed by `stop`), with tenant acme created first. */
export async function startGatewayProcess(upstream: string, extra: string[] = [], dataDir = tempDir("tenantgate-process-")): Promise<GatewayProcess> {
  const created = await cli(dataDir, ["tenants", "create", "acme"]);
  if (created.code !== 0) throw new Error(`tenants create acme: ${created.stderr}${created.stdout}`);
  const token = await cli(dataDir, ["token", "--org", "acme"]);
  if (token.code !== 0) throw new Error(`token --org acme: ${token.stderr}`);
  const served = await serve(dataDir, ["--upstream", upstream, ...extra]);
  const pid = served.proc.pid;
  return {
    served,
    port: Number(new URL(served.url).port),
    pid,
    dataDir,
    token: token.stdout.trim(),
    descriptors: () => readdirSync(`/proc/${pid}/fd`).length,
    async stop() {
      await served.stop();
      removeDir(dataDir);
    },
  };
}

/** A raw client connection that keeps what it receives and knows whether it closed. */
export interface RawClient {
  socket: Socket;
  received(): string;
  closed(): boolean;
}

/**
 * `n` connections to 127.0.0.1:`port`, each written `first` once connected; 50 at a time, so no
 * listen backlog overflows (a dropped SYN comes back only a second later).
 */
export async function openMany(port: number, n: number, first: (i: number) => string | Uint8Array): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = Array.from({ length: Math.min(50, n - i) }, (_, j) => openOne(port, first(i + j)));
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}

function openOne(port: number, first: string | Uint8Array): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    let text = "";
    let closed = false;
    const socket = connect({ port, host: "127.0.0.1", noDelay: true });
    socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
    socket.on("close", () => (closed = true));
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      socket.on("error", () => {});
      // Resolved once the bytes are handed to the kernel, so the gateway can read them.
      socket.write(first, () => resolve({ socket, received: () => text, closed: () => closed }));
    });
  });
}

export type Transport = "front door" | "--no-front-door";

/**
 * For a suite that runs its tests through both transports: one gateway process each (the default
 * front door, and --no-front-door) over one recording upstream, started before the suite and
 * stopped after it. Read through the getters.
 */
export function useGatewayPerTransport(): { readonly up: RecordingUpstream; gateway(transport: Transport): GatewayProcess } {
  let up: RecordingUpstream | undefined;
  const gateways = new Map<Transport, GatewayProcess>();
  beforeAll(async () => {
    up = startRecordingUpstream();
    const [front, fetchPath] = await Promise.all([startGatewayProcess(up.url), startGatewayProcess(up.url, ["--no-front-door"])]);
    gateways.set("front door", front);
    gateways.set("--no-front-door", fetchPath);
  });
  afterAll(async () => {
    await Promise.all([...gateways.values()].map((g) => g.stop()));
    up?.stop();
  });
  return {
    get up() {
      return up as RecordingUpstream;
    },
    gateway: (transport) => gateways.get(transport) as GatewayProcess,
  };
}
