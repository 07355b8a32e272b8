import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { openClient as open, rawHttp, startRecordingUpstream, type RecordingUpstream } from "../support/proxy-upstream.ts";
import { createTenants } from "../support/upstream.ts";
import { until } from "../support/until.ts";

// Slow clients through both transports (issue 11): an upload that keeps moving is never cut, however
// long it takes; slow uploads do not hold the upstream connections other clients need.

let up: RecordingUpstream;
const gateways: Record<string, TestGateway> = {};
const ARGS = ["--client-timeout-seconds", "1", "--upstream-timeout-ms", "2000"];

beforeAll(async () => {
  up = startRecordingUpstream();
  const [front, fetchPath] = await Promise.all([startGateway(["--upstream", up.url, ...ARGS]), startGateway(["--upstream", up.url, ...ARGS, "--no-front-door"])]);
  gateways["front door"] = front as TestGateway;
  gateways["--no-front-door"] = fetchPath as TestGateway;
  await Promise.all(Object.values(gateways).map((g) => createTenants(g, ["acme"])));
});

afterAll(async () => {
  await Promise.all(Object.values(gateways).map((g) => g.stop()));
  up.stop();
});

describe.each(["front door", "--no-front-door"])("through the %s", (transport) => {
  const gw = () => gateways[transport] as TestGateway;

  test.each([
    ["a small body", 2_000],
    ["a body larger than what is buffered", 200_000],
  ])("%s sent slowly but steadily for 2.5 s, past every timeout, arrives whole", async (_name, size) => {
    const c = await open(gw().gateway.port);
    c.socket.write(`POST /upload HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: ${size}\r\n\r\n`);
    const pieces = 25;
    for (let i = 0; i < pieces; i++) {
      await Bun.sleep(100);
      c.socket.write("x".repeat(i === pieces - 1 ? size - Math.floor(size / pieces) * (pieces - 1) : Math.floor(size / pieces)));
    }
    await until("the answer", () => c.text(), (t) => t.includes("\r\n\r\n{"), 5000);
    expect(c.text()).toStartWith("HTTP/1.1 200");
    expect(JSON.parse(c.text().slice(c.text().indexOf("\r\n\r\n") + 4)).bytes).toBe(size);
    c.socket.destroy();
  });

  test("300 slow small uploads hold no upstream connection: a request meanwhile is answered", async () => {
    const uploads = await Promise.all(
      Array.from({ length: 300 }, async () => {
        const c = await open(gw().gateway.port);
        c.socket.write(`POST /upload HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 1000\r\n\r\n${"a".repeat(500)}`);
        return c;
      }),
    );
    await Bun.sleep(100);
    const res = await rawHttp(gw().gateway.port, "GET /authorize?during=uploads HTTP/1.1\r\nHost: acme.localhost\r\n\r\n");
    expect(res.status).toBe(200);
    expect(uploads.every((u) => u.text() === "")).toBe(true);
    for (const u of uploads) u.socket.write("b".repeat(500));
    await until("every upload's answer", () => uploads.filter((u) => u.text().includes('"bytes":1000')).length, (n) => n === 300, 10_000);
    for (const u of uploads) u.socket.destroy();
  }, 30_000);
});
