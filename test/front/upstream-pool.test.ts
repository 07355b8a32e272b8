import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { UpstreamPool, type UpstreamLink } from "../../src/front/upstream-pool.ts";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { openClient, rawHttp, startScriptedUpstream, type ScriptedUpstream } from "../support/proxy-upstream.ts";
import { createTenants } from "../support/upstream.ts";
import { until } from "../support/until.ts";

const holds = (check: () => boolean, what: string) => until(what, check, (v) => v, 5000);

// The front door's upstream connections (issue 11): one bounded pool shared by every client
// connection, whose queued bytes end with the connection they were meant for.

/** A server that keeps every connection and what arrived on it; `reading` false stops reading new ones. */
async function startSink(): Promise<{ server: Server; port: number; received: string[]; sockets: Socket[]; reading: boolean }> {
  const sink = { server: undefined as unknown as Server, port: 0, received: [] as string[], sockets: [] as Socket[], reading: true };
  sink.server = createServer((socket) => {
    const i = sink.received.push("") - 1;
    sink.sockets.push(socket);
    socket.on("error", () => {});
    if (!sink.reading) socket.pause();
    socket.on("data", (d: Buffer) => (sink.received[i] += d.toString("latin1")));
  });
  await new Promise<void>((resolve) => sink.server.listen(0, "127.0.0.1", resolve));
  sink.port = (sink.server.address() as { port: number }).port;
  return sink;
}

const lend = (pool: UpstreamPool<string>, owner: string) => new Promise<UpstreamLink<string> | undefined>((resolve) => pool.acquire(owner, resolve));

describe("UpstreamPool", () => {
  test("needs at least one connection", () => {
    expect(() => new UpstreamPool({ hostname: "127.0.0.1", port: 1, max: 0, idleMs: 1, data() {}, drained() {}, closed() {} })).toThrow(/at least one/);
  });

  test("bytes still queued for a connection are never written to another: it is closed, not lent again", async () => {
    const sink = await startSink();
    sink.reading = false;
    const pool = new UpstreamPool<string>({ hostname: "127.0.0.1", port: sink.port, max: 4, idleMs: 10_000, data() {}, drained() {}, closed() {} });
    const first = (await lend(pool, "a")) as UpstreamLink<string>;
    // More than the kernel takes from a peer that does not read: some stays queued in the outbox.
    first.out.write(Buffer.alloc(32 * 1024 * 1024, 0x78));
    expect(first.out.empty).toBe(false);
    pool.release(first, true);
    expect(first.closed).toBe(true);
    sink.reading = true;
    const second = (await lend(pool, "b")) as UpstreamLink<string>;
    expect(second).not.toBe(first);
    second.out.write("GET /next HTTP/1.1\r\n\r\n");
    await holds(() => sink.received[1] !== undefined && sink.received[1].length > 0, "bytes on the second connection");
    expect(sink.received[1]).toBe("GET /next HTTP/1.1\r\n\r\n");
    pool.release(second, true);
    pool.stop();
    for (const s of sink.sockets) s.destroy();
    sink.server.close();
  });

  test("at most `max` connections: a further owner waits and gets the first one released", async () => {
    const sink = await startSink();
    const pool = new UpstreamPool<string>({ hostname: "127.0.0.1", port: sink.port, max: 2, idleMs: 10_000, data() {}, drained() {}, closed() {} });
    const a = (await lend(pool, "a")) as UpstreamLink<string>;
    const b = (await lend(pool, "b")) as UpstreamLink<string>;
    let third: UpstreamLink<string> | undefined;
    pool.acquire("c", (link) => (third = link));
    await Bun.sleep(50);
    expect(third).toBeUndefined();
    expect(pool.size).toBe(2);
    pool.release(a, true);
    expect(third).toBe(a);
    expect(third?.owner).toBe("c");
    pool.release(b, true);
    pool.release(third as UpstreamLink<string>, true);
    expect([pool.size, pool.idleCount, sink.sockets.length]).toEqual([2, 2, 2]);
    pool.stop();
    sink.server.close();
  });
});

describe("through the front door", () => {
  let up: ScriptedUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    up = await startScriptedUpstream(() => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    gw = await startGateway(["--upstream", up.url, "--upstream-connections", "4", "--upstream-timeout-ms", "2000"]);
    await createTenants(gw, ["acme"]);
  });

  afterAll(async () => {
    await gw.stop();
    await up.stop();
  });

  const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: acme.localhost\r\n\r\n`;

  /** A kept-alive client connection that sent one request and has its answer. */
  async function servedClient(i: number): Promise<Socket> {
    const c = await openClient(gw.gateway.port);
    c.socket.write(request(`/idle-${i}`));
    await holds(() => c.text().endsWith("ok"), `the answer of client ${i}`);
    return c.socket;
  }

  test("200 kept-alive clients share at most --upstream-connections upstream connections", async () => {
    up.connections = 0;
    const clients = await Promise.all(Array.from({ length: 200 }, (_, i) => servedClient(i)));
    expect(up.heads.filter((h) => h.includes("/idle-"))).toHaveLength(200);
    expect(up.connections).toBeLessThanOrEqual(4);
    for (const c of clients) c.destroy();
  });

  test("slow small uploads hold no upstream connection while their bodies arrive: other requests are answered meanwhile", async () => {
    const uploads: Awaited<ReturnType<typeof openClient>>[] = [];
    for (let i = 0; i < 40; i++) {
      const c = await openClient(gw.gateway.port);
      c.socket.write(`POST /oauth/token HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 1000\r\n\r\n${"a".repeat(500)}`);
      uploads.push(c);
    }
    // 40 uploads half sent, with a pool of 4: a read still gets an upstream connection.
    const res = await rawHttp(gw.gateway.port, request("/authorize?during=uploads"));
    expect(res.status).toBe(200);
    expect(uploads.every((u) => u.text() === "")).toBe(true);
    expect(up.heads.some((h) => h.includes("/oauth/token"))).toBe(false);
    for (const u of uploads) u.socket.write("b".repeat(500));
    await holds(() => uploads.every((u) => u.text().endsWith("ok")), "every upload's answer");
    for (const u of uploads) u.socket.destroy();
  });
});
