import { describe, expect, test } from "bun:test";
import { openMany, useGatewayPerTransport } from "../support/gateway-process.ts";
import { until } from "../support/until.ts";

// Issue 18, part 2: a client that goes away in the middle of its request frees everything it held
// at once. Thousands of connections each send a request head and part of its body, then close
// (FIN). The gateway's open descriptors (/proc/<pid>/fd: client sockets, connections handed to its
// HTTP server, upstream connections, bodies' temporary files) must come back near where they were,
// long before --upstream-timeout-ms (30 s here, the default) would have let go of them, and nothing
// of an unfinished request may reach the upstream. A client that half-closes after a complete
// request still gets its answer.

/** Descriptors the gateway may hold beyond its baseline once every client is gone (pooled upstream connections, files). */
const SLACK = 40;

const both = useGatewayPerTransport();

const post = (target: string, length: number, headers = "") => `POST ${target} HTTP/1.1\r\nHost: acme.localhost\r\n${headers}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${length}\r\n\r\n`;

describe.each(["front door", "--no-front-door"] as const)("through the %s", (transport) => {
  const gw = () => both.gateway(transport);

  test.each([
    // The case: a small body, buffered in memory.
    ["POST /oauth/token, 3 of 1,000 body bytes", 3000, () => post("/oauth/token", 1000) + "a=b"],
    // Over the in-memory bound: its body goes to a temporary file.
    ["POST /upload, 100 KiB of 1 MB", 300, () => Buffer.concat([Buffer.from(post("/upload", 1_000_000)), Buffer.alloc(100 * 1024, "a")])],
    // The front door hands a management write to the gateway's HTTP server, over a connection of its own.
    ["a management write, 3 of 1,000 body bytes", 1000, () => post("/api/v2/users", 1000, `Authorization: Bearer ${gw().token}\r\n`) + "{\"a"],
  ] as const)("%s (x%d), then the client closes: the gateway's descriptors come back", async (_name, n, request) => {
    const baseline = gw().descriptors();
    const clients = await openMany(gw().port, n, request);
    try {
      // The connections are the gateway's before the clients go (within the slack: a descriptor of
      // its own counted in the baseline may have closed meanwhile).
      await until("the connections in the gateway", () => gw().descriptors(), (d) => d >= baseline + n - SLACK, 10_000);
      for (const c of clients) c.socket.end();
      await until("the gateway's descriptors back near their baseline", () => gw().descriptors(), (d) => d <= baseline + SLACK, 5000);
      // Nothing of an unfinished request reached the upstream.
      expect(both.up.take().filter((r) => r.complete).map((r) => `${r.method} ${r.path} ${r.bytes}`)).toEqual([]);
    } finally {
      for (const c of clients) c.socket.destroy();
    }
  }, 60_000);
});

// With --no-front-door, Bun.serve (1.4.5) takes a FIN as the client gone and drops an answer still
// pending (docs/forwarding.md); through the front door the answer comes, forwarded or handed over.
describe("through the front door, a client that half-closes after a complete request", () => {
  const gw = () => both.gateway("front door");

  test.each([
    ["forwarded by the front door", () => post("/upload", 3) + "abc", '"bytes":3'],
    ["handed to the gateway's HTTP server (a management write)", () => post("/api/v2/users", 3, `Authorization: Bearer ${gw().token}\r\n`) + "abc", '"path":"/api/v2/users"'],
  ] as const)("%s still gets its answer", async (_name, request, answered) => {
    const clients = await openMany(gw().port, 20, request);
    for (const c of clients) c.socket.end();
    await until("every answer", () => clients.filter((c) => c.received().includes(answered)).length, (n) => n === clients.length, 10_000);
    await until("every connection closed after its answer", () => clients.filter((c) => c.closed()).length, (n) => n === clients.length);
    expect(clients.every((c) => c.received().startsWith("HTTP/1.1 200 "))).toBe(true);
    both.up.take();
  });
});
