// The front door through a real gateway on 127.0.0.1: a scripted upstream (node:net, byte-exact
// answers, counting its connections) and raw client sockets that read several responses from one
// connection. What the gateway forwards and refuses is covered by test/proxy/*.test.ts (which now
// runs through the front door too); this file covers what only the front door does: pipelining,
// connection pairing and reuse, response framings, hand-over of everything that is not plain.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import pino from "pino";
import { Writable } from "node:stream";
import { Gateway } from "../../src/app.ts";
import { loadConfig } from "../../src/config/index.ts";
import { startGateway, tempDataDir, type TestGateway } from "../support/gateway.ts";
import { startScriptedUpstream, type ScriptedUpstream } from "../support/proxy-upstream.ts";
import { createTenants } from "../support/upstream.ts";

/** A client connection that keeps everything it receives. */
async function client(
  port: number,
  localAddress?: string,
): Promise<{ send(text: string): void; shut(): void; received(): string; closed(): boolean; until(check: (text: string) => boolean, what: string): Promise<string>; end(): void }> {
  const socket = connect({ port, host: "127.0.0.1", localAddress });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let text = "";
  let closed = false;
  socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
  socket.on("close", () => (closed = true));
  socket.on("error", () => {});
  return {
    send: (t) => void socket.write(Buffer.from(t, "latin1")),
    /** Shuts the client's sending side (FIN), keeping the receiving side open. */
    shut: () => void socket.end(),
    received: () => text,
    closed: () => closed,
    async until(check, what) {
      const end = Date.now() + 3000;
      while (Date.now() < end) {
        if (check(text)) return text;
        await Bun.sleep(5);
      }
      throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(text)}`);
    },
    end: () => socket.destroy(),
  };
}

const count = (text: string, what: string) => text.split(what).length - 1;
const get = (path: string, ...headers: string[]) => [`GET ${path} HTTP/1.1`, "Host: acme.localhost", ...headers, "", ""].join("\r\n");

/** A client that has had its first answer ("/one", "ok"): its upstream connection is open and idle. */
async function warmClient(): ReturnType<typeof client> {
  const c = await client(gw.gateway.port);
  c.send(get("/one"));
  await c.until((t) => count(t, "ok") === 1, "the first answer");
  return c;
}

let up: ScriptedUpstream;
let gw: TestGateway;

beforeAll(async () => {
  up = await startScriptedUpstream(() => undefined);
  gw = await startGateway(["--upstream", `http://127.0.0.1:${up.port}`, "--upstream-timeout-ms", "400", "--upstream-idle-ms", "200"]);
  await createTenants(gw, ["acme"]);
});

afterAll(async () => {
  await gw.stop();
  await up.stop();
});

const reset = (answer?: ScriptedUpstream["answer"]) => {
  up.heads = [];
  up.connections = 0;
  up.answer = answer ?? (() => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
};

describe("one client connection", () => {
  test("pipelined requests are answered in order, over one upstream connection", async () => {
    reset((h) => {
      const path = h.split(" ")[1] as string;
      return `HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`;
    });
    const c = await client(gw.gateway.port);
    c.send(get("/first") + get("/second") + get("/third"));
    const text = await c.until((t) => t.endsWith("/third"), "three answers");
    expect(text.indexOf("/first")).toBeLessThan(text.indexOf("/second"));
    expect(text.indexOf("/second")).toBeLessThan(text.indexOf("/third"));
    expect(count(text, "HTTP/1.1 200 OK")).toBe(3);
    expect(up.heads.map((h) => h.split(" ")[1])).toEqual(["/first", "/second", "/third"]);
    expect(up.connections).toBe(1);
    c.end();
  });

  test("a client that shuts its side after sending (FIN) still gets every answer, then the close", async () => {
    reset((h) => {
      const path = h.split(" ")[1] as string;
      return `HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`;
    });
    const c = await client(gw.gateway.port);
    c.send(get("/one") + get("/two"));
    c.shut();
    const text = await c.until(() => c.closed(), "the answers and the close");
    expect(count(text, "HTTP/1.1 200 OK")).toBe(2);
    expect(text.endsWith("/two")).toBe(true);
  });

  test("each request carries the gateway's headers, not the client's", async () => {
    reset();
    const c = await client(gw.gateway.port);
    c.send(get("/authorize?x=1", "Tenant-Id: evil", "X-Forwarded-For: 6.6.6.6", "X-Forwarded-Host: evil.example", "X-Request-Id: mine-1"));
    const text = await c.until((t) => t.endsWith("ok"), "the answer");
    const seen = up.heads[0] as string;
    expect(seen.split("\r\n")[0]).toBe("GET /authorize?x=1 HTTP/1.1");
    expect(seen).toContain(`\r\nhost: 127.0.0.1:${up.port}`);
    expect(seen).toContain("\r\ntenant-id: acme");
    expect(seen).toContain("\r\nx-forwarded-for: 127.0.0.1");
    expect(seen).toContain("\r\nx-forwarded-host: acme.localhost");
    expect(seen).toContain("\r\nx-request-id: mine-1");
    expect(seen).not.toMatch(/evil|6\.6\.6\.6|Tenant-Id/);
    expect(text).toContain("\r\nx-request-id: mine-1\r\n");
    c.end();
  });

  test("the client's other header lines reach the upstream byte for byte, obs-text included", async () => {
    reset();
    const c = await client(gw.gateway.port);
    c.send(get("/authorize", "Accept: */*", "X-Name: caf\xe9", "Cookie: a=1; b=2"));
    await c.until((t) => t.endsWith("ok"), "the answer");
    expect(up.heads[0]).toContain("\r\nAccept: */*\r\nX-Name: caf\xe9\r\nCookie: a=1; b=2\r\n");
    c.end();
  });

  test("an upstream connection idle past --upstream-idle-ms is replaced, and the request still goes through", async () => {
    reset();
    const c = await warmClient();
    const opened = up.connections;
    await Bun.sleep(300);
    c.send(get("/two"));
    await c.until((t) => count(t, "ok") === 2, "the second answer");
    expect(up.connections).toBe(opened + 1);
    c.end();
  });

  test("an upstream that closed a kept-alive connection is reconnected to; the client sees nothing of it", async () => {
    reset();
    const c = await warmClient();
    up.closeAll();
    await Bun.sleep(20);
    c.send(get("/two"));
    const text = await c.until((t) => count(t, "ok") === 2, "the second answer");
    expect(count(text, "HTTP/1.1 200 OK")).toBe(2);
    expect(c.closed()).toBe(false);
    c.end();
  });
});

describe("an upstream that closes a kept-alive connection under a request", () => {
  test("a request that sent only its head is sent again, once, on a new connection", async () => {
    let dropped = false;
    reset((head, socket) => {
      if (head.includes("/two") && !dropped) {
        dropped = true;
        socket.destroy();
        return undefined;
      }
      return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    });
    const c = await warmClient();
    const opened = up.connections;
    c.send(get("/two"));
    const text = await c.until((t) => count(t, "ok") === 2, "the second answer");
    expect(count(text, "HTTP/1.1 200 OK")).toBe(2);
    expect(up.heads.filter((h) => h.includes("/two"))).toHaveLength(2);
    expect(up.connections).toBe(opened + 1);
    c.end();
  });

  test.each([
    ["a POST without a body (it may have been acted on)", "POST /passwordless/start HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 0\r\n\r\n"],
    ["a request that sent a body", "POST /oauth/token HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 2\r\n\r\nab"],
  ])("%s is not sent again: 502", async (_name, request) => {
    reset((head, socket) => {
      if (head.startsWith("POST")) {
        socket.destroy();
        return undefined;
      }
      return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    });
    const c = await warmClient();
    c.send(request);
    const text = await c.until(() => c.closed(), "the 502");
    expect(text.slice(text.indexOf("ok") + 2)).toStartWith("HTTP/1.1 502 Bad Gateway\r\n");
    expect(up.heads.filter((h) => h.startsWith("POST"))).toHaveLength(1);
  });
});

describe("response framings", () => {
  test("a chunked body passes byte for byte (extensions, trailers) and the connection stays usable", async () => {
    const chunked = "5;a=b\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
    reset((h) => (h.startsWith("GET /chunked") ? `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}` : undefined) ?? "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext");
    const c = await client(gw.gateway.port);
    c.send(get("/chunked") + get("/after"));
    const text = await c.until((t) => t.endsWith("next"), "both answers");
    expect(text).toContain(`\r\n\r\n${chunked}HTTP/1.1 200 OK`);
    expect(text).toMatch(/transfer-encoding: chunked/i);
    c.end();
  });

  test("HEAD gets the head only (its Content-Length kept), then the next request is answered", async () => {
    reset((h) => (h.startsWith("HEAD") ? "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    const c = await client(gw.gateway.port);
    c.send(get("/x").replace("GET", "HEAD") + get("/y"));
    const text = await c.until((t) => t.endsWith("ok"), "both answers");
    expect(text).toContain("Content-Length: 1000");
    expect(count(text, "HTTP/1.1 200 OK")).toBe(2);
    c.end();
  });

  test("204 and 304 end at their head", async () => {
    reset((h) => (h.includes("/nc") ? "HTTP/1.1 204 No Content\r\n\r\n" : "HTTP/1.1 304 Not Modified\r\nETag: \"1\"\r\n\r\n"));
    const c = await client(gw.gateway.port);
    c.send(get("/nc") + get("/nm"));
    const text = await c.until((t) => t.includes("304 Not Modified") && t.endsWith("\r\n\r\n"), "both answers");
    expect(text.indexOf("204 No Content")).toBeLessThan(text.indexOf("304 Not Modified"));
    c.end();
  });

  test("a 103 Early Hints is not passed on (the fetch path cannot), the final answer is", async () => {
    reset(() => "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    const c = await client(gw.gateway.port);
    c.send(get("/hints"));
    const text = await c.until((t) => t.endsWith("ok"), "the final answer");
    expect(text.startsWith("HTTP/1.1 200 OK")).toBe(true);
    expect(text).not.toContain("103");
    c.end();
  });

  test("a body that ends when the upstream closes reaches the client, then the client connection closes", async () => {
    reset(() => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-close");
    const c = await client(gw.gateway.port);
    c.send(get("/stream"));
    await Bun.sleep(50);
    up.closeAll();
    await c.until(() => c.closed(), "the close");
    expect(c.received()).toMatch(/\r\nconnection: close\r\n\r\nuntil-close$/);
  });

  test("a malformed upstream head is a 502 JSON, and the gateway goes on serving", async () => {
    reset((h) => (h.includes("/bad") ? "HTTP/1.1 200 OK\r\nX-A: 1\nSet-Cookie: evil=1\r\n\r\n" : undefined) ?? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    const c = await client(gw.gateway.port);
    c.send(get("/bad"));
    const text = await c.until(() => c.closed(), "the 502 and the close");
    expect(text).toStartWith("HTTP/1.1 502 Bad Gateway\r\n");
    expect(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4))).toEqual({ statusCode: 502, error: "Bad Gateway", message: "the upstream's answer is not valid HTTP" });
    expect(text).not.toContain("evil");
    const next = await gw.request("acme.localhost", "/fine");
    expect(await next.text()).toBe("ok");
  });

  test("no response head within --upstream-timeout-ms is a 504", async () => {
    reset(() => undefined);
    const c = await client(gw.gateway.port);
    const started = performance.now();
    c.send(get("/silent"));
    const text = await c.until(() => c.closed(), "the 504");
    expect(text).toStartWith("HTTP/1.1 504 Gateway Timeout\r\n");
    expect(performance.now() - started).toBeLessThan(1500);
  });
});

describe("slow clients", () => {
  test("a body that stops arriving is a 408 naming the client, not a 504 blaming the upstream", async () => {
    reset();
    const c = await client(gw.gateway.port);
    c.send("POST /oauth/token HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 100\r\n\r\n0123456789");
    const text = await c.until(() => c.closed(), "the 408");
    expect(text).toStartWith("HTTP/1.1 408 Request Timeout\r\n");
    expect(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)).message).toBe("the request body stopped arriving: nothing for 400 ms");
  });

  test("a chunked body that stops arriving (handed over) is a 408 from the full gateway too", async () => {
    reset();
    const c = await client(gw.gateway.port);
    c.send("POST /oauth/token HTTP/1.1\r\nHost: acme.localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    const text = await c.until((t) => t.includes("\r\n\r\n{"), "the 408");
    expect(text).toStartWith("HTTP/1.1 408 ");
    expect(text).toContain("the request body stopped arriving: nothing for 400 ms");
    c.end();
  });

  test("a request head trickled in byte by byte ends with a 408 after --client-timeout-seconds", async () => {
    const strict = await startGateway(["--upstream", `http://127.0.0.1:${up.port}`, "--client-timeout-seconds", "1"]);
    try {
      const c = await client(strict.gateway.port);
      const started = performance.now();
      const head = "GET /authorize HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + "x".repeat(100);
      let i = 0;
      const trickle = setInterval(() => (i < head.length && !c.closed() ? c.send(head[i++] as string) : clearInterval(trickle)), 50);
      const text = await c.until(() => c.closed(), "the 408");
      clearInterval(trickle);
      expect(text).toStartWith("HTTP/1.1 408 Request Timeout\r\n");
      expect(text).toContain("the request head did not arrive within 1 s");
      expect(performance.now() - started).toBeLessThan(2500);
    } finally {
      await strict.stop();
    }
  });
});

describe("hand-over to the full gateway", () => {
  test.each([
    ["HTTP/1.0", "GET /authorize HTTP/1.0\r\nHost: acme.localhost\r\n\r\n"],
    ["a chunked request body", "POST /oauth/token HTTP/1.1\r\nHost: acme.localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nab\r\n0\r\n\r\n"],
    ["Expect: 100-continue", "POST /oauth/token HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nab"],
    ["an escaped path", "GET /u/%6Cogin HTTP/1.1\r\nHost: acme.localhost\r\nConnection: close\r\n\r\n"],
  ])("%s is still forwarded, by the full gateway", async (_name, raw) => {
    reset();
    const c = await client(gw.gateway.port);
    c.send(raw);
    const text = await c.until((t) => t.endsWith("ok"), "the answer");
    expect(text).toContain(" 200 ");
    expect(up.heads).toHaveLength(1);
    expect(up.heads[0]).toMatch(/\r\ntenant-id: acme/);
    c.end();
  });

  test.each([
    ["Content-Length with Transfer-Encoding", "POST /oauth/token HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: acme.localhost\r\n\r\n"],
    ["two Content-Lengths", "POST /oauth/token HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: acme.localhost\r\n\r\n"],
    ["obs-fold", "GET /authorize HTTP/1.1\r\nHost: acme.localhost\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n"],
    ["a bare LF", "GET /authorize HTTP/1.1\r\nHost: acme.localhost\nX-Smuggled: 1\r\n\r\n"],
  ])("%s never reaches the upstream as a second request", async (_name, raw) => {
    reset();
    const c = await client(gw.gateway.port);
    c.send(raw);
    await c.until((t) => t.includes("HTTP/1.1 "), "an answer");
    await Bun.sleep(100);
    expect(up.heads.some((h) => h.includes("/smuggled"))).toBe(false);
    c.end();
  });

  test.each([
    ["escaped paths", (p: string) => `GET /u/%6C${p} HTTP/1.1\r\nHost: acme.localhost\r\n\r\n`],
    ["chunked bodies", (p: string) => `POST /u/${p} HTTP/1.1\r\nHost: acme.localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`],
    ["method overrides", (p: string) => `GET /u/${p} HTTP/1.1\r\nHost: acme.localhost\r\nX-HTTP-Method-Override: GET\r\n\r\n`],
  ])("pipelined requests on a handed-over connection (%s) are all answered, in order", async (_name, make) => {
    // The upstream answers late: each answer is still pending when the next request has arrived.
    reset((head, socket) => {
      const path = head.split(" ")[1] as string;
      setTimeout(() => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`), 30);
      return undefined;
    });
    const c = await client(gw.gateway.port);
    c.send(make("one") + make("two") + make("three"));
    const text = await c.until((t) => t.endsWith("three"), "three answers");
    expect(count(text, "HTTP/1.1 200 OK")).toBe(3);
    expect(text.indexOf("one")).toBeLessThan(text.indexOf("two"));
    expect(text.indexOf("two")).toBeLessThan(text.indexOf("three"));
    expect(up.heads).toHaveLength(3);
    expect(c.closed()).toBe(false);
    c.end();
  });

  test("the full gateway sees the real client address of a handed-over connection", async () => {
    // Linux routes all of 127/8 to loopback: a client bound to 127.0.0.2 is told apart from the
    // front door's own connections, which come from 127.0.0.1.
    reset();
    const c = await client(gw.gateway.port, "127.0.0.2");
    c.send(get("/authorize") + "GET /authorize HTTP/1.1\r\nHost: acme.localhost\r\nExpect: 100-continue\r\n\r\n");
    await c.until((t) => count(t, "ok") === 2, "both answers");
    expect(up.heads).toHaveLength(2);
    for (const h of up.heads) expect(h.toLowerCase()).toContain("\r\nx-forwarded-for: 127.0.0.2");
    c.end();
  });

  test("gateway-owned paths on the same connection as proxied ones: both answered, in order", async () => {
    reset();
    const c = await client(gw.gateway.port);
    c.send(get("/authorize") + get("/healthz") + get("/authorize"));
    const text = await c.until((t) => count(t, "HTTP/1.1 200") === 3 && t.endsWith("ok"), "three answers");
    expect(text.indexOf("ok")).toBeLessThan(text.indexOf('"status"'));
    expect(up.heads).toHaveLength(2);
    c.end();
  });
});

test("forwarded requests are counted in /metrics and logged like the others", async () => {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(...String(chunk).trimEnd().split("\n")), done()) });
  const dataDir = tempDataDir();
  const { config } = loadConfig({ argv: ["--dev", "--port", "0", "--data-dir", dataDir, "--upstream", `http://127.0.0.1:${up.port}`], env: {} });
  const logged = await Gateway.open(config, pino({ level: "info" }, sink));
  await logged.listen();
  try {
    reset();
    const c = await client(logged.port);
    c.send(get("/authorize", "X-Request-Id: counted-1").replace("acme.localhost", "localhost"));
    await c.until((t) => t.endsWith("ok"), "the answer");
    c.end();
    // The front door's thread hands its records over in batches; a scrape collects them first.
    const metrics = await (await fetch(`http://127.0.0.1:${logged.port}/metrics`)).text();
    expect(metrics).toMatch(/tenantgate_http_requests_total\{class="proxy",status="200"\} 1\b/);
    await Bun.sleep(20);
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.reqId === "counted-1");
    expect(line).toMatchObject({ msg: "request", method: "GET", path: "/authorize", status: 200, peer: "127.0.0.1" });
  } finally {
    await logged.close();
  }
});

test("an https upstream is never spoken to in plain text: requests go through fetch, over TLS", async () => {
  // A plain-HTTP server named as https: a TLS client cannot talk to it, a plain-text one could.
  const plain = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("plaintext reached") });
  const tls = await startGateway(["--upstream", `https://127.0.0.1:${plain.port}`]);
  try {
    const res = await tls.request("localhost", "/authorize");
    expect(res.status).toBe(502);
    expect(await res.text()).not.toContain("plaintext reached");
  } finally {
    await tls.stop();
    plain.stop(true);
  }
});

test("--no-front-door: the gateway's HTTP server listens itself and forwards as before", async () => {
  const plain = await startGateway(["--upstream", `http://127.0.0.1:${up.port}`, "--no-front-door"]);
  try {
    reset();
    const res = await plain.request("localhost", "/authorize");
    expect(await res.text()).toBe("ok");
    expect(up.heads[0]).toMatch(/\r\ntenant-id: control_plane/i);
  } finally {
    await plain.stop();
  }
});
