import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { header, rawHttp, startScriptedUpstream, type ScriptedUpstream } from "../support/proxy-upstream.ts";
import { createTenants } from "../support/upstream.ts";

// The forwarding path as a security boundary (issue 11), probed with raw bytes through both
// transports: the front door (raw sockets) and --no-front-door (Bun.serve and fetch). Each case is
// an attack that got through before the forwarding policy had one home (src/proxy/policy.ts).

let up: ScriptedUpstream; // the upstream: records every head it is sent
let internal: ScriptedUpstream; // a service beside it that the gateway must never reach
const gateways: Record<string, TestGateway> = {};

beforeAll(async () => {
  up = await startScriptedUpstream(() => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nProxy-Status: authhero; error=none\r\nContent-Length: 2\r\n\r\nok");
  internal = await startScriptedUpstream(() => "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret");
  const [front, fetchPath] = await Promise.all([startGateway(["--upstream", up.url]), startGateway(["--upstream", up.url, "--no-front-door"])]);
  gateways["front door"] = front as TestGateway;
  gateways["--no-front-door"] = fetchPath as TestGateway;
  await Promise.all(Object.values(gateways).map((g) => createTenants(g, ["acme", "beta"])));
});

afterAll(async () => {
  await Promise.all(Object.values(gateways).map((g) => g.stop()));
  await up.stop();
  await internal.stop();
});

/** Heads the upstream got while `send` ran, after a moment for anything smuggled to arrive. */
async function seenDuring<T>(send: () => Promise<T>): Promise<{ result: T; heads: string[]; internal: string[] }> {
  up.heads = [];
  internal.heads = [];
  const result = await send();
  await Bun.sleep(50);
  return { result, heads: [...up.heads], internal: [...internal.heads] };
}

/** Header names of a head, lower-case. */
const names = (head: string) => head.split("\r\n").slice(1).map((l) => l.slice(0, l.indexOf(":")).toLowerCase());

describe.each(["front door", "--no-front-door"])("through the %s", (transport) => {
  const port = () => (gateways[transport] as TestGateway).gateway.port;

  test("CONNECT to an internal address is refused (405) and reaches nothing", async () => {
    const { result, heads, internal: reached } = await seenDuring(() =>
      rawHttp(port(), `CONNECT x:@127.0.0.1:${internal.port}/whatever?q=1 HTTP/1.1\r\nHost: acme.localhost\r\n\r\n`),
    );
    expect(result.status).toBe(405);
    expect(header(result, "allow")[0]).toContain("GET");
    expect(JSON.parse(result.body.toString()).message).toMatch(/CONNECT/);
    expect(reached).toEqual([]);
    expect(heads).toEqual([]);
  });

  test("TRACE and extension methods are refused before routing", async () => {
    for (const method of ["TRACE", "PROPFIND"]) {
      const { result, heads } = await seenDuring(() => rawHttp(port(), `${method} /authorize HTTP/1.1\r\nHost: acme.localhost\r\n\r\n`));
      expect(result.status).toBe(405);
      expect(heads).toEqual([]);
    }
  });

  test("an absolute-form target naming another host still goes to the upstream only", async () => {
    const { result, heads, internal: reached } = await seenDuring(() =>
      rawHttp(port(), `GET http://127.0.0.1:${internal.port}/x HTTP/1.1\r\nHost: acme.localhost\r\n\r\n`),
    );
    expect(reached).toEqual([]);
    if (result.status === 200) expect(heads.map((h) => h.split("\r\n")[0])).toEqual(["GET /x HTTP/1.1"]);
    else expect(result.status).toBe(400);
  });

  test("a head over 16 KiB is refused with 431, also when complete; nothing of it reaches the upstream", async () => {
    const smuggled = "GET /api/v2/users HTTP/1.1\r\nHost: beta.localhost\r\ntenant-id: beta\r\n\r\n";
    const body = `\r\n\r\n${smuggled}`;
    const request = `POST /oauth/token HTTP/1.1\r\nHost: acme.localhost\r\nX-Pad: ${"a".repeat(65_500)}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const { result, heads } = await seenDuring(() => rawHttp(port(), request));
    expect(result.status).toBe(431);
    expect(heads).toEqual([]);
  });

  test("heads of every size up to the limit pass whole; one byte past it is a 431", async () => {
    const make = (total: number) => {
      const start = "GET /authorize HTTP/1.1\r\nHost: acme.localhost\r\nX-Pad: ";
      return `${start}${"p".repeat(total - start.length - 4)}\r\n\r\n`;
    };
    for (const total of [1000, 8192, 16_000, 16_384]) {
      const { result, heads } = await seenDuring(() => rawHttp(port(), make(total)));
      expect(result.status).toBe(200);
      expect(heads).toHaveLength(1);
      expect(heads[0]).toContain("\r\ntenant-id: acme");
      expect((heads[0] as string).toLowerCase()).toContain(`\r\nx-pad: ${"p".repeat(total - 60)}`);
    }
    for (const total of [16_385, 40_000, 70_000]) {
      const { result, heads } = await seenDuring(() => rawHttp(port(), make(total)));
      expect(result.status).toBe(431);
      expect(heads).toEqual([]);
    }
  });

  test("a preflight passes without a token, with no body and no Authorization", async () => {
    const { result, heads } = await seenDuring(() =>
      rawHttp(
        port(),
        "OPTIONS /api/v2/roles HTTP/1.1\r\nHost: acme.localhost\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: DELETE\r\n\r\n",
      ),
    );
    expect(result.status).toBe(200);
    expect(heads).toHaveLength(1);
    expect(names(heads[0] as string)).not.toContain("authorization");
  });

  test("an OPTIONS with a body or an Authorization is no preflight: the access rule applies (401)", async () => {
    const pre = "OPTIONS /api/v2/roles HTTP/1.1\r\nHost: acme.localhost\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: DELETE\r\n";
    for (const request of [`${pre}Authorization: Bearer not-a-token\r\n\r\n`, `${pre}Content-Length: 5\r\n\r\nhello`]) {
      const { result, heads } = await seenDuring(() => rawHttp(port(), request));
      expect(result.status).toBe(401);
      expect(heads).toEqual([]);
    }
  });

  test("header names that normalize to the gateway's own are dropped; Forwarded and X-Forwarded-* from a client never pass", async () => {
    const spoofed = [
      "tenant_id: beta",
      "Tenant.Id: beta",
      "x_tenant_id: beta",
      "X_Forwarded_For: 6.6.6.6",
      "x_forwarded_host: evil.example",
      "X.Forwarded.Proto: https",
      "Transfer_Encoding: chunked",
      "content_length: 5",
      "x_request_id: spoof",
      "Forwarded: for=6.6.6.6;host=evil.example;proto=https",
      "X-Forwarded-Port: 443",
      "X-Forwarded-Prefix: /evil",
      "X-Real-IP: 6.6.6.6",
      "Connection_: x",
    ];
    const { result, heads } = await seenDuring(() => rawHttp(port(), `GET /authorize HTTP/1.1\r\nHost: acme.localhost\r\n${spoofed.join("\r\n")}\r\nX-Kept_Name: fine\r\n\r\n`));
    expect(result.status).toBe(200);
    expect(heads).toHaveLength(1);
    const head = heads[0] as string;
    expect(head).not.toMatch(/beta|6\.6\.6\.6|evil|spoof|_id|_for|chunked|forwarded:|x-forwarded-port|x-forwarded-prefix|x-real-ip/i);
    expect(head).toContain("\r\ntenant-id: acme");
    expect(names(head).filter((n) => n === "tenant-id")).toHaveLength(1);
    expect(head).toMatch(/\r\nx-kept_name: fine/i);
  });

  test("an upstream's Proxy-Status reaches the client", async () => {
    const res = await rawHttp(port(), "GET /authorize HTTP/1.1\r\nHost: acme.localhost\r\n\r\n");
    expect(res.status).toBe(200);
    expect(header(res, "proxy-status")).toEqual(["authhero; error=none"]);
  });
});
