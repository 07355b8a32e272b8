import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { rawHttp, type RawResponse } from "../support/proxy-upstream.ts";
import { createTenants } from "../support/upstream.ts";

// The differential test of the forwarding policy (issue 11): the same raw requests go through the
// front door and through --no-front-door, to one upstream that logs the exact bytes it gets; what
// the upstream received and what the client got must be the same. Only the transport's own framing
// may differ (Content-Length or chunks for a streamed body, Connection), so bodies are compared
// de-framed and those two headers are left out of the comparison.

interface Received {
  head: string;
  body: string;
}

/** A node:net upstream: logs each request's head and de-framed body, answers by path. */
function startLoggingUpstream(): Promise<{ server: Server; port: number; log: Received[] }> {
  const log: Received[] = [];
  const server = createServer((socket: Socket) => {
    socket.on("error", () => {});
    let buf = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end === -1) return;
        const head = buf.subarray(0, end).toString("latin1");
        let at = end + 4;
        let body = "";
        const length = /\r\ncontent-length: *(\d+)/i.exec(head);
        if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          for (;;) {
            const eol = buf.indexOf("\r\n", at);
            if (eol === -1) return;
            const size = Number.parseInt(buf.subarray(at, eol).toString("latin1"), 16);
            if (buf.length < eol + 2 + size + 2) return;
            body += buf.subarray(eol + 2, eol + 2 + size).toString("latin1");
            at = eol + 2 + size + 2;
            if (size === 0) break;
          }
        } else if (length) {
          if (buf.length < at + Number(length[1])) return;
          body = buf.subarray(at, at + Number(length[1])).toString("latin1");
          at += Number(length[1]);
        }
        buf = buf.subarray(at);
        log.push({ head, body });
        answer(head.split(" ")[1] ?? "/", socket);
      }
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as { port: number }).port, log })));
}

const ANSWERS: Record<string, string> = {
  "/plain": "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nplain",
  "/hop":
    "HTTP/1.1 200 OK\r\nConnection: keep-alive, x-resp-hop\r\nX-Resp-Hop: secret\r\nKeep-Alive: timeout=5\r\nTrailer: x-sum\r\nUpgrade: h2c\r\n" +
    "Proxy-Authenticate: Basic realm=up\r\nProxy-Connection: keep-alive\r\nProxy-Status: authhero\r\nX-Request-Id: upstream-own\r\nX-End-To-End: kept\r\nContent-Length: 2\r\n\r\nok",
  "/cookies": "HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; HttpOnly\r\nSet-Cookie: c=3\r\nContent-Length: 0\r\n\r\n",
  "/chunked": "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
  "/created": "HTTP/1.1 201 Created\r\nLocation: /x/1\r\nContent-Length: 0\r\n\r\n",
  "/no-content": "HTTP/1.1 204 No Content\r\nETag: \"v1\"\r\n\r\n",
  "/redirect": "HTTP/1.1 302 Found\r\nLocation: https://app.example.com/cb?code=1\r\nContent-Length: 0\r\n\r\n",
  "/early-hints": "HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
  "/untyped-chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
  "/malformed": "HTTP/1.1 200 OK\r\nX-Bad : space\r\nContent-Length: 2\r\n\r\nok",
};

function answer(target: string, socket: Socket): void {
  const path = target.replace(/\?.*$/, "").replace(/^\/api\/v2/, "");
  if (path === "/silent") return;
  if (path === "/drop") return void socket.destroy();
  if (path === "/until-close") return void socket.end(Buffer.from("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end", "latin1"));
  socket.write(Buffer.from(ANSWERS[path] ?? ANSWERS["/plain"]!, "latin1"));
}

let upstream: Awaited<ReturnType<typeof startLoggingUpstream>>;
let front: TestGateway;
let fetchPath: TestGateway;

beforeAll(async () => {
  upstream = await startLoggingUpstream();
  const args = ["--upstream", `http://127.0.0.1:${upstream.port}`, "--upstream-timeout-ms", "300"];
  [front, fetchPath] = await Promise.all([startGateway(args), startGateway([...args, "--no-front-door"])]);
  await Promise.all([createTenants(front, ["acme", "beta"]), createTenants(fetchPath, ["acme", "beta"])]);
});

afterAll(async () => {
  await Promise.all([front.stop(), fetchPath.stop()]);
  upstream.server.close();
});

/** Every request a browser-like client sends carries these: fetch adds its own when they are missing. */
const BASE = ["User-Agent: diff-client/1", "Accept: */*"];

interface Case {
  name: string;
  method?: string;
  target: string;
  host?: string;
  headers?: string[];
  body?: string;
  /** Send a valid token for the tenant's management API. */
  authorized?: boolean;
}

const CASES: Case[] = [
  { name: "plain GET", target: "/authorize?client_id=a&state=x%2Fy" },
  { name: "POST with a body", method: "POST", target: "/oauth/token", headers: ["Content-Type: application/x-www-form-urlencoded"], body: "grant_type=client_credentials&x=1" },
  { name: "chunked request body", method: "POST", target: "/u/login", headers: ["Transfer-Encoding: chunked"], body: "5\r\nhello\r\n0\r\n\r\n" },
  {
    name: "every request header class",
    target: "/authorize",
    headers: [
      "Cookie: a=1; b=2",
      "X-Custom: kept",
      "X-Obs: caf\xe9",
      "Tenant-Id: beta",
      "tenant_id: beta",
      "X-Tenant-Id: beta",
      "X-Forwarded-For: 6.6.6.6",
      "X_Forwarded_Host: evil.example",
      "X-Forwarded-Proto: https",
      "Forwarded: for=6.6.6.6",
      "X-Real-IP: 6.6.6.6",
      "Keep-Alive: timeout=5",
      "TE: trailers",
      "Proxy-Authorization: Basic eA==",
      "Proxy-Connection: keep-alive",
      "Content_Length: 9",
    ],
  },
  { name: "Connection naming a header", target: "/authorize", headers: ["Connection: keep-alive, x-secret", "X-Secret: 1"] },
  { name: "a method override (read)", target: "/authorize", headers: ["X-HTTP-Method-Override: DELETE"] },
  { name: "management read with a token", target: "/api/v2/users", authorized: true },
  { name: "management read without a token", target: "/api/v2/users" },
  { name: "management read with a bad token", target: "/api/v2/users", headers: ["Authorization: Bearer a.b.c"] },
  { name: "preflight", method: "OPTIONS", target: "/api/v2/roles", headers: ["Origin: https://app.example.com", "Access-Control-Request-Method: DELETE"] },
  { name: "unknown tenant", target: "/authorize", host: "nobody.localhost" },
  { name: "the control plane's host", target: "/authorize", host: "localhost" },
  { name: "CONNECT", method: "CONNECT", target: "x:@127.0.0.1:1/x" },
  { name: "TRACE", method: "TRACE", target: "/authorize" },
  { name: "a head over the limit", target: "/authorize", headers: [`X-Pad: ${"p".repeat(17_000)}`] },
  { name: "a body over the tenants API limit", method: "POST", target: "/api/v2/tenants", headers: ["Content-Type: application/json", "Content-Length: 70000"], body: "x".repeat(70_000) },
  { name: "hop-by-hop response headers, Proxy-Status, the upstream's request id", target: "/hop" },
  { name: "several Set-Cookie", target: "/cookies" },
  { name: "a chunked response", target: "/chunked" },
  { name: "201 with Location", method: "POST", target: "/created", headers: ["Content-Length: 0"] },
  { name: "204", method: "DELETE", target: "/no-content" },
  { name: "a redirect", target: "/redirect" },
  { name: "HEAD", method: "HEAD", target: "/plain" },
  { name: "a body that ends with the connection", target: "/until-close" },
  { name: "an interim 103 before the answer", target: "/early-hints" },
  { name: "a chunked body without a Content-Type", target: "/untyped-chunked" },
  { name: "a malformed upstream head", target: "/malformed" },
  { name: "an upstream that never answers", target: "/silent" },
  { name: "an upstream that drops the connection", target: "/drop" },
];

/** The request's bytes for one gateway (the token is that gateway's own). */
async function bytesFor(gw: TestGateway, c: Case, id: string): Promise<string> {
  const headers = [`Host: ${c.host ?? "acme.localhost"}`, ...BASE, `X-Request-Id: ${id}`, ...(c.headers ?? [])];
  if (c.authorized) headers.push(`Authorization: Bearer ${await gw.orgToken("acme", ["read:users"])}`);
  const body = c.body ?? "";
  if (c.body !== undefined && !(c.headers ?? []).some((h) => /^(content-length|transfer-encoding):/i.test(h))) headers.push(`Content-Length: ${Buffer.byteLength(body, "latin1")}`);
  return `${c.method ?? "GET"} ${c.target} HTTP/1.1\r\n${headers.join("\r\n")}\r\n\r\n${body}`;
}

/** Headers as a sorted list of `name: value`, leaving out framing and what differs per gateway. */
function comparable(lines: string[], skip: (name: string) => boolean): string[] {
  return lines
    .map((l) => {
      const i = l.indexOf(":");
      return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()] as const;
    })
    .filter(([n]) => !["content-length", "transfer-encoding", "connection", "date"].includes(n) && !skip(n))
    .map(([n, v]) => `${n}: ${v}`)
    .sort();
}

async function through(gw: TestGateway, c: Case, id: string): Promise<{ client: unknown; upstream: unknown }> {
  const before = upstream.log.length;
  let res: RawResponse | { error: string };
  try {
    res = await rawHttp(gw.gateway.port, Buffer.from(await bytesFor(gw, c, id), "latin1"), { noBody: c.method === "HEAD", timeoutMs: 3000 });
  } catch (err) {
    res = { error: (err as Error).message };
  }
  await Bun.sleep(30);
  const seen = upstream.log.slice(before).map((r) => {
    const [first, ...lines] = r.head.split("\r\n");
    // The upstream's own port is the same for both; each gateway's peer address is 127.0.0.1.
    return { line: first, headers: comparable(lines, (n) => n === "authorization"), body: r.body, authorized: /\r\nauthorization:/i.test(r.head) };
  });
  const client =
    "error" in res
      ? res
      : {
          status: res.status,
          reason: res.head.split("\r\n")[0],
          headers: comparable(res.head.split("\r\n").slice(1), () => false),
          body: res.body.toString("latin1"),
        };
  return { client, upstream: seen };
}

test.each(CASES.map((c, i) => [c.name, c, i] as const))("%s: the same through both transports", async (_name, c, i) => {
  const id = `diff-${i}`;
  const viaFront = await through(front, c, id);
  const viaFetch = await through(fetchPath, c, id);
  expect(viaFront).toEqual(viaFetch);
});

test("the cases reach the upstream where they should (the comparison is not between two empty logs)", async () => {
  const forwarded = await through(front, CASES[0]!, "check");
  expect((forwarded.upstream as unknown[]).length).toBe(1);
});

test("with --preserve-host both transports send AuthHero the Host the client used, the rest as without it", async () => {
  const args = ["--upstream", `http://127.0.0.1:${upstream.port}`, "--upstream-timeout-ms", "300", "--preserve-host"];
  const [keepFront, keepFetch] = await Promise.all([startGateway(args), startGateway([...args, "--no-front-door"])]);
  try {
    await Promise.all([createTenants(keepFront, ["acme"]), createTenants(keepFetch, ["acme"])]);
    for (const [i, c] of [CASES[0]!, CASES[1]!, CASES[3]!].entries()) {
      const viaFront = await through(keepFront, c, `keep-${i}`);
      const viaFetch = await through(keepFetch, c, `keep-${i}`);
      expect(viaFront).toEqual(viaFetch);
      const seen = (viaFront.upstream as { headers: string[] }[])[0]?.headers ?? [];
      expect(seen).toContain("host: acme.localhost");
      expect(seen).toContain("x-forwarded-host: acme.localhost");
    }
  } finally {
    await Promise.all([keepFront.stop(), keepFetch.stop()]);
  }
});

test("without it, AuthHero gets its own address as Host", async () => {
  const seen = ((await through(front, CASES[0]!, "own-host")).upstream as { headers: string[] }[])[0]?.headers ?? [];
  expect(seen).toContain(`host: 127.0.0.1:${upstream.port}`);
});

test("a tenant file that cannot be opened: the same 503 through both transports", async () => {
  const answers = [];
  for (const gw of [front, fetchPath]) {
    await gw.gateway.parts.lifecycle.create({ id: "broken", friendly_name: "Broken" });
    writeFileSync(join(gw.dataDir, "tenants", "broken.sqlite"), "garbage, not a database".repeat(100));
    // A handle opened before the file was spoiled would read its own failure; the next open is the pool's.
    gw.gateway.parts.files!.pool.evict("broken");
    const request = `GET /api/v2/tenants/broken/effective-settings HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: broken\r\nAuthorization: Bearer ${await gw.token()}\r\n\r\n`;
    const res = await rawHttp(gw.gateway.port, Buffer.from(request, "latin1"), { timeoutMs: 3000 });
    answers.push({ status: res.status, reason: res.head.split("\r\n")[0], headers: comparable(res.head.split("\r\n").slice(1), () => false), body: res.body.toString("latin1") });
  }
  expect(answers[0]).toEqual(answers[1]!);
  expect(answers[0]!.status).toBe(503);
  expect(JSON.parse(answers[0]!.body)).toEqual({ statusCode: 503, error: "Service Unavailable", message: 'tenant "broken" is unavailable: its file is unreadable' });
});
