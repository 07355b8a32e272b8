// Mangled requests against the front door: whatever arrives (broken heads, odd lengths, stray CR or
// LF, garbage bytes, a connection cut mid-head), the client gets an answer or a closed connection,
// the process keeps going, and the next ordinary request is served. Real gateway, real sockets.
import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { connect } from "node:net";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { MAX_HEAD_BYTES } from "../../src/proxy/policy.ts";
import { startRecordingUpstream, startScriptedUpstream, type RecordingUpstream } from "../support/proxy-upstream.ts";
import { createTenants } from "../support/upstream.ts";

let up: RecordingUpstream;
let gw: TestGateway;

beforeAll(async () => {
  up = startRecordingUpstream();
  gw = await startGateway(["--upstream", up.url, "--upstream-timeout-ms", "300", "--client-timeout-seconds", "1"]);
  await createTenants(gw, ["acme"]);
});

afterAll(async () => {
  await gw.stop();
  up.stop();
});

const BASES = [
  "GET /authorize?client_id=a HTTP/1.1\r\nHost: acme.localhost\r\nAccept: */*\r\n\r\n",
  'POST /oauth/token HTTP/1.1\r\nHost: acme.localhost\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"grant":"x"}',
  "GET /api/v2/users HTTP/1.1\r\nHost: acme.localhost\r\nAuthorization: Bearer a.b.c\r\n\r\n",
  "POST /u/login HTTP/1.1\r\nHost: acme.localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
];
const PIECES = ["\r\n", "\n", "\r", " ", "\t", ":", "\0", "\x7f", "\xe9", "Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n", "Host: beta.localhost\r\n", "Connection: close\r\n", "Expect: 100-continue\r\n", "%2F", "/../", "GET / HTTP/1.1\r\n", "0\r\n\r\n", "HTTP/1.0", "999999999999999"];

type Edit = { at: number; kind: "insert" | "delete" | "replace"; piece: string; length: number };
const edit: fc.Arbitrary<Edit> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom("insert", "delete", "replace"),
  piece: fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 8 })),
  length: fc.integer({ min: 1, max: 12 }),
});

function mangle(base: string, edits: Edit[]): string {
  let s = base;
  for (const e of edits) {
    const at = e.at % (s.length + 1);
    if (e.kind === "insert") s = s.slice(0, at) + e.piece + s.slice(at);
    else if (e.kind === "delete") s = s.slice(0, at) + s.slice(at + e.length);
    else s = s.slice(0, at) + e.piece + s.slice(at + e.piece.length);
  }
  return s;
}

/** Sends `bytes` (optionally cut off half way), then waits until the gateway answers and or closes. */
function exchange(bytes: string, cut: boolean): Promise<{ answered: boolean; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(gw.gateway.port, "127.0.0.1");
    let answered = false;
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ answered, closed });
    };
    // Within 1.5 s: an answer, a close, or the 408 of the 1 s client timeout (a head still incomplete).
    const timer = setTimeout(done, 1500);
    socket.on("data", (d: Buffer) => {
      if (d.toString("latin1").startsWith("HTTP/1.")) answered = true;
      setTimeout(done, 30);
    });
    socket.on("close", () => {
      closed = true;
      done();
    });
    socket.on("error", () => {});
    socket.on("connect", () => {
      const raw = Buffer.from(bytes, "latin1");
      socket.write(cut ? raw.subarray(0, raw.length >> 1) : raw);
      if (cut) socket.end();
    });
  });
}

test("mangled requests get an answer or a closed connection, and the gateway keeps serving", async () => {
  let silent = 0;
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...BASES), fc.array(edit, { minLength: 1, maxLength: 4 }), fc.boolean(), async (base, edits, cut) => {
      const result = await exchange(mangle(base, edits), cut);
      if (!result.answered && !result.closed) silent++;
      const ok = await gw.request("acme.localhost", "/authorize?after=fuzz");
      expect(ok.status).toBe(200);
      await ok.text();
    }),
    { numRuns: 60, seed: 20261129 },
  );
  expect(silent).toBe(0);
}, 120_000);

test("heads of every size up to past the limit: whole with the gateway's headers, or a 431, never cut", async () => {
  // An upstream with no head limit of its own, recording each head exactly.
  const raw = await startScriptedUpstream(() => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  const door = await startGateway(["--upstream", raw.url]);
  await createTenants(door, ["acme"]);
  const smuggled = "GET /api/v2/users HTTP/1.1\r\nHost: beta.localhost\r\ntenant-id: beta\r\n\r\n";
  const body = `\r\n\r\n${smuggled}`;
  const start = "POST /oauth/token HTTP/1.1\r\nHost: acme.localhost\r\nX-Pad: ";
  const tail = `\r\nContent-Length: ${body.length}\r\n\r\n`;
  try {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.integer({ min: 100, max: 80_000 }), fc.integer({ min: 16_370, max: 16_400 })), async (size) => {
        const pad = Math.max(1, size - start.length - tail.length);
        const total = start.length + pad + tail.length;
        raw.heads = [];
        const text = await new Promise<string>((resolve) => {
          const socket = connect(door.gateway.port, "127.0.0.1");
          let got = "";
          socket.on("data", (d: Buffer) => (got += d.toString("latin1")));
          socket.on("close", () => resolve(got));
          socket.on("error", () => {});
          socket.on("connect", () => socket.end(Buffer.from(start + "p".repeat(pad) + tail + body, "latin1")));
        });
        await Bun.sleep(20);
        if (total <= MAX_HEAD_BYTES) {
          expect(text.startsWith("HTTP/1.1 200")).toBe(true);
          expect(raw.heads).toHaveLength(1);
          expect(raw.heads[0]).toContain("\r\ntenant-id: acme\r\n");
          expect(raw.heads[0]).toContain(`\r\nX-Pad: ${"p".repeat(pad)}\r\n`);
          expect(raw.heads[0]).toContain(`\r\nContent-Length: ${body.length}\r\n`);
        } else {
          expect(text.startsWith("HTTP/1.1 431")).toBe(true);
          expect(raw.heads).toEqual([]);
        }
      }),
      { numRuns: 40, seed: 20261201 },
    );
  } finally {
    await door.stop();
    await raw.stop();
  }
}, 120_000);
