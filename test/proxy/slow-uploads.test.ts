import { describe, expect, test } from "bun:test";
import { openMany, useGatewayPerTransport, type RawClient } from "../support/gateway-process.ts";
import { rawHttp } from "../support/proxy-upstream.ts";
import { until } from "../support/until.ts";

// Issue 18, part 3: slow uploads must not starve other clients. 400 clients each start an upload
// over 64 KiB and keep trickling it; meanwhile another client's management write (POST
// /api/v2/users with a valid token) must be answered while every upload is still in progress, on
// both transports. nginx passes this because it buffers request bodies before it takes an upstream
// connection; so does the gateway. Real gateway processes, a real upstream on 127.0.0.1.

const UPLOADS = 400;
const BODY = 200_000;
const FIRST = 70 * 1024; // over 64 KiB at once: the code before buffered only bodies up to 64 KiB
const TRICKLE = 512;

const both = useGatewayPerTransport();

describe.each(["front door", "--no-front-door"] as const)("through the %s", (transport) => {
  test(`${UPLOADS} slow uploads over 64 KiB: another client's management write is answered while they still trickle`, async () => {
    const gw = both.gateway(transport);
    const before = gw.descriptors();
    both.up.take();
    const head = `POST /upload HTTP/1.1\r\nHost: acme.localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: ${BODY}\r\n\r\n`;
    const uploads = await openMany(gw.port, UPLOADS, () => Buffer.concat([Buffer.from(head), Buffer.alloc(FIRST, "a")]));
    const sent = new Map<RawClient, number>(uploads.map((u) => [u, FIRST]));
    const trickle = setInterval(() => {
      for (const u of uploads) {
        const n = sent.get(u) as number;
        // The last bytes are kept back: no upload completes before the test says so.
        if (n + TRICKLE >= BODY) continue;
        u.socket.write(Buffer.alloc(TRICKLE, "b"));
        sent.set(u, n + TRICKLE);
      }
    }, 250);
    try {
      // The uploads are the gateway's before the write is sent (less a few: a descriptor of its own
      // counted before may have closed meanwhile).
      await until("the uploads' connections in the gateway", () => gw.descriptors(), (n) => n >= before + UPLOADS - 20, 10_000);

      const body = JSON.stringify({ email: "slow@example.com", connection: "Username-Password-Authentication" });
      // Bounded, so that the test ends on code that does not answer (the code before it waited for the uploads).
      const answer = await rawHttp(
        gw.port,
        `POST /api/v2/users HTTP/1.1\r\nHost: acme.localhost\r\nAuthorization: Bearer ${gw.token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
        { timeoutMs: 15_000 },
      ).catch((err: Error) => err);
      const inProgress = uploads.filter((u) => !u.closed() && u.received() === "" && (sent.get(u) as number) < BODY).length;
      if (answer instanceof Error) throw new Error(`the management write got no answer while ${inProgress} uploads were in progress: ${answer.message}`);
      expect({ status: answer.status, body: JSON.parse(answer.body.toString()) }).toMatchObject({ status: 200, body: { tenant: "acme", method: "POST", path: "/api/v2/users", body } });
      expect(inProgress).toBe(UPLOADS);
      // Bodies arrive whole before the upstream is contacted: none of the uploads has reached it.
      expect(both.up.take().map((r) => r.path)).toEqual(["/api/v2/users"]);
    } finally {
      clearInterval(trickle);
    }

    // The uploads finish and each reaches the upstream whole.
    for (const u of uploads) u.socket.write(Buffer.alloc(BODY - (sent.get(u) as number), "c"));
    await until("every upload's answer", () => uploads.filter((u) => u.received().includes(`"bytes":${BODY}`)).length, (n) => n === UPLOADS, 30_000);
    for (const u of uploads) u.socket.destroy();
  }, 90_000);
});
