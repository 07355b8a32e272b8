import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import type { Subprocess } from "bun";
import { BUN, cli, MAIN, removeDir, ROOT, tempDir } from "../cli/spawn.ts";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import {
  BROTLIED,
  closedPort,
  COOKIES,
  digestOf,
  expectedDigest,
  generatedStream,
  GZIPPED,
  header,
  rawHead,
  rawHttp,
  REDIRECT_TO,
  startRawUpstream,
  startRecordingUpstream,
  type RawUpstream,
  type RecordingUpstream,
} from "../support/proxy-upstream.ts";
import { createTenants, expectError } from "../support/upstream.ts";

// The reverse proxy (DESIGN.md, "The request path", point 5) through real HTTP: gateways on
// 127.0.0.1 in front of upstream doubles that record what reaches them.

let up: RecordingUpstream;
let raw: RawUpstream; // answers byte for byte; switchable (silent, hop headers, dropped connections)
let gw: TestGateway; // --max-body-bytes 1000000
let trusted: TestGateway; // --trusted-proxies 127.0.0.1
let slow: TestGateway; // upstream: raw, --upstream-timeout-ms 300
let gwPort: number;

beforeAll(async () => {
  up = startRecordingUpstream();
  raw = await startRawUpstream("ok");
  [gw, trusted, slow] = await Promise.all([
    startGateway(["--upstream", up.url, "--max-body-bytes", "1000000"]),
    startGateway(["--upstream", up.url, "--trusted-proxies", "127.0.0.1"]),
    startGateway(["--upstream", raw.url, "--upstream-timeout-ms", "300"]),
  ]);
  await Promise.all([createTenants(gw, ["acme"]), createTenants(trusted, ["acme"]), createTenants(slow, ["acme"])]);
  gwPort = gw.gateway.port;
  up.take();
});

afterAll(async () => {
  await Promise.all([gw, trusted, slow].map((g) => g?.stop()));
  up?.stop();
  await raw?.stop();
});

/** The one request the upstream saw since the last take (fails unless exactly one). */
function only(): NonNullable<RecordingUpstream["seen"][number]> {
  const seen = up.take();
  expect(seen.map((s) => `${s.method} ${s.path}`)).toHaveLength(1);
  return seen[0]!;
}

describe("request headers", () => {
  test("tenant-id is the gateway's; X-Forwarded-* are set, the client's own chain is not believed", async () => {
    const res = await gw.request("acme.localhost", "/u/login?state=1", {
      headers: { "tenant-id": "evil", "x-tenant-id": "evil", "x-forwarded-for": "6.6.6.6", "x-forwarded-host": "evil.example", "x-forwarded-proto": "https", "x-custom": "kept" },
    });
    expect(res.status).toBe(200);
    await res.text();
    const seen = only();
    expect(seen.headers["tenant-id"]).toBe("acme");
    expect(seen.headers["x-tenant-id"]).toBeUndefined();
    expect(seen.headers["x-forwarded-host"]).toBe("acme.localhost");
    expect(seen.headers["x-forwarded-proto"]).toBe("http");
    expect(seen.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(seen.headers["x-custom"]).toBe("kept");
    expect(seen.headers.host).toBe(`127.0.0.1:${up.port}`);
  });

  test("behind a trusted proxy the chain is extended and its host and proto are believed", async () => {
    const res = await trusted.request("localhost", "/u/login", {
      headers: { "tenant-id": "evil", "x-forwarded-for": "203.0.113.7, 10.0.0.2", "x-forwarded-host": "acme.localhost:8443", "x-forwarded-proto": "https" },
    });
    expect(res.status).toBe(200);
    await res.text();
    const seen = only();
    expect(seen.headers["tenant-id"]).toBe("acme");
    expect(seen.headers["x-forwarded-for"]).toBe("203.0.113.7, 10.0.0.2, 127.0.0.1");
    expect(seen.headers["x-forwarded-host"]).toBe("acme.localhost:8443");
    expect(seen.headers["x-forwarded-proto"]).toBe("https");
  });

  test("hop-by-hop request headers (and the ones Connection names) are not forwarded", async () => {
    const res = await rawHttp(
      gwPort,
      rawHead("GET", "/u/login", [
        ["Host", "acme.localhost"],
        ["Connection", "keep-alive, x-secret-hop"],
        ["X-Secret-Hop", "do-not-forward"],
        ["Keep-Alive", "timeout=5"],
        ["TE", "trailers"],
        ["Trailer", "x-checksum"],
        ["Upgrade", "h2c"],
        ["Proxy-Authorization", "Basic c2VjcmV0OnNlY3JldA=="],
        ["Proxy-Connection", "keep-alive"],
        ["X-End-To-End", "kept"],
      ]),
    );
    expect(res.status).toBe(200);
    const seen = only();
    expect(seen.headers["x-end-to-end"]).toBe("kept");
    const leaked = ["x-secret-hop", "keep-alive", "te", "trailer", "upgrade", "proxy-authorization", "proxy-connection"].filter((h) => h in seen.headers);
    expect(leaked).toEqual([]);
    // Bun's client may add its own `connection: keep-alive`; the client's value must not pass.
    expect(seen.headers.connection ?? "").not.toContain("x-secret-hop");
  });

  test("hop-by-hop response headers (and the ones Connection names) are not returned", async () => {
    raw.mode = "hop";
    try {
      const res = await rawHttp(slow.gateway.port, rawHead("GET", "/u/login", [["Host", "acme.localhost"], ["Connection", "close"]]));
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe("ok");
      expect(header(res, "x-end-to-end")).toEqual(["kept"]);
      const leaked = ["x-resp-hop", "keep-alive", "trailer", "upgrade", "proxy-authenticate", "proxy-connection"].filter((h) => header(res, h).length > 0);
      expect(leaked).toEqual([]);
      expect(header(res, "connection").join(",")).not.toContain("x-resp-hop");
    } finally {
      raw.mode = "ok";
    }
  });

  test("method override headers never reach the upstream", async () => {
    const res = await gw.request("acme.localhost", "/oauth/token", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-http-method-override": "DELETE", "x-http-method": "PUT", "x-method-override": "PATCH" },
      body: "grant_type=client_credentials",
    });
    expect(res.status).toBe(200);
    await res.text();
    const seen = only();
    expect(seen.method).toBe("POST");
    expect(["x-http-method-override", "x-http-method", "x-method-override"].filter((h) => h in seen.headers)).toEqual([]);
  });

  test("a lower-case method never reaches the upstream as itself: Bun's parser refuses it, PATCH passes", async () => {
    const body = '{"name":"x"}';
    const head = (method: string) =>
      rawHead(method, "/u/profile", [["Host", "acme.localhost"], ["Content-Type", "application/json"], ["Content-Length", String(body.length)], ["Connection", "close"]], body);
    // Bun's HTTP server closes the connection on a method that is not upper case (before the
    // gateway sees it), so no lower-case method can be forwarded; nothing reaches the upstream.
    const lower = await rawHttp(gwPort, head("patch")).catch((err: Error) => err);
    expect(lower instanceof Error ? "refused" : `answered ${lower.status}`).toBe("refused");
    await Bun.sleep(20);
    expect(up.take()).toEqual([]);
    const upper = await rawHttp(gwPort, head("PATCH"));
    expect(upper.status).toBe(200);
    const seen = only();
    expect([seen.method, seen.body]).toEqual(["PATCH", body]);
    expect(JSON.parse(upper.body.toString()).method).toBe("PATCH");
  });

  test("path and query are passed unchanged", async () => {
    const target = "/authorize?client_id=a&redirect_uri=https%3A%2F%2Fx.example%2Fcb&state=%2F%2F";
    const res = await rawHttp(gwPort, rawHead("GET", target, [["Host", "acme.localhost"], ["Connection", "close"]]));
    expect(res.status).toBe(200);
    expect(only().path).toBe(target);
  });
});

test("an upstream under a base path keeps it; a path that looks like another host stays a path", async () => {
  const based = await startGateway(["--upstream", `${up.url}/auth/`]);
  try {
    await createTenants(based, ["acme"]);
    up.take();
    expect((await based.request("acme.localhost", "/authorize?x=1")).status).toBe(200);
    expect(only().path).toBe("/auth/authorize?x=1");
    const raw = await rawHttp(based.gateway.port, rawHead("GET", "//evil.example.com/x", [["Host", "acme.localhost"], ["Connection", "close"]]));
    expect(raw.status).toBe(200);
    expect(only().path).toBe("/auth//evil.example.com/x");
  } finally {
    await based.stop();
  }
});

describe("bodies pass through untouched", () => {
  test("pre-gzipped bytes arrive byte for byte with their Content-Encoding", async () => {
    const res = await gw.request("acme.localhost", "/gzip", { headers: { "accept-encoding": "gzip" }, decompress: false } as RequestInit);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-encoding")).toBe("gzip");
    const length = res.headers.get("content-length");
    if (length !== null) expect(Number(length)).toBe(GZIPPED.byteLength);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(GZIPPED);
    expect(only().path).toBe("/gzip");
  });

  test("pre-gzipped bytes on the wire (raw client): same bytes, no wrong Content-Length", async () => {
    const res = await rawHttp(gwPort, rawHead("GET", "/gzip", [["Host", "acme.localhost"], ["Accept-Encoding", "gzip"], ["Connection", "close"]]));
    expect(res.status).toBe(200);
    expect(header(res, "content-encoding")).toEqual(["gzip"]);
    const lengths = header(res, "content-length");
    expect(lengths.every((l) => Number(l) === GZIPPED.byteLength)).toBe(true);
    expect(lengths.length <= 1).toBe(true);
    expect(new Uint8Array(res.body)).toEqual(GZIPPED);
    expect(only().path).toBe("/gzip");
  });

  test("brotli passes through too", async () => {
    const res = await rawHttp(gwPort, rawHead("GET", "/br", [["Host", "acme.localhost"], ["Accept-Encoding", "br"], ["Connection", "close"]]));
    expect(res.status).toBe(200);
    expect(header(res, "content-encoding")).toEqual(["br"]);
    const lengths = header(res, "content-length");
    expect(lengths.every((l) => Number(l) === BROTLIED.byteLength) && lengths.length <= 1).toBe(true);
    expect(new Uint8Array(res.body)).toEqual(BROTLIED);
    expect(only().path).toBe("/br");
  });

  test("several Set-Cookie headers stay several", async () => {
    const res = await gw.request("acme.localhost", "/cookies");
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual(COOKIES);
    expect(await res.text()).toBe("cookies");
    expect(only().path).toBe("/cookies");
  });
});

describe("redirects and status codes", () => {
  test.each([302, 303, 307])("%p is returned with its Location, not followed", async (code) => {
    const res = await gw.request("acme.localhost", `/redirect/${code}`, { redirect: "manual" });
    expect(res.status).toBe(code);
    expect(res.headers.get("location")).toBe(REDIRECT_TO);
    await res.text();
    expect(up.take().map((s) => s.path)).toEqual([`/redirect/${code}`]);
  });

  test.each([201, 400, 401, 404, 500])("%p passes through with the upstream's body", async (code) => {
    const res = await gw.request("acme.localhost", `/status/${code}`);
    expect(res.status).toBe(code);
    expect(res.headers.get("x-upstream")).toBe("double");
    expect(res.headers.get("content-type")).toBe("text/plain");
    expect(await res.text()).toBe(`upstream says ${code}`);
    expect(up.take()).toHaveLength(1);
  });

  test.each([204, 304])("%p arrives with no body", async (code) => {
    const res = await rawHttp(gwPort, rawHead("GET", `/status/${code}`, [["Host", "acme.localhost"], ["Connection", "close"]]));
    expect(res.status).toBe(code);
    expect(res.body.byteLength).toBe(0);
    expect(res.chunked).toBe(false);
    expect(header(res, "etag")).toEqual(['"v1"']);
    expect(up.take()).toHaveLength(1);
  });
});

describe("body limit (--max-body-bytes 1000000)", () => {
  test("a declared Content-Length over the limit → 413 JSON, nothing reaches the upstream", async () => {
    const res = await rawHttp(
      gwPort,
      rawHead("POST", "/u/login", [["Host", "acme.localhost"], ["Content-Type", "application/octet-stream"], ["Content-Length", "2000000"], ["Connection", "close"]]),
    );
    expect(res.status).toBe(413);
    const body = JSON.parse(res.body.toString());
    expect(body).toEqual({ statusCode: 413, error: "Payload Too Large", message: "request body of 2000000 bytes is over the limit of 1000000" });
    await Bun.sleep(50);
    expect(up.take()).toEqual([]);
  });

  test("a declared Content-Length over the limit, sent with fetch → 413 JSON", async () => {
    const res = await gw.request("acme.localhost", "/u/login", { method: "POST", body: new Uint8Array(2_000_000) });
    await expectError(res, 413, "request body of 2000000 bytes is over the limit of 1000000");
    expect(up.take()).toEqual([]);
  });

  test("a chunked 2 MB body → 413 JSON; the upstream never gets it whole", async () => {
    const res = await gw.request("acme.localhost", "/u/login", { method: "POST", body: generatedStream(2_000_000).stream, duplex: "half" } as RequestInit);
    await expectError(res, 413, "over the limit of 1000000 bytes");
    await Bun.sleep(50);
    expect(up.take().filter((s) => s.complete)).toEqual([]);
  });

  test("a chunked 500 KB body passes whole, buffered and sent with its length", async () => {
    const gen = generatedStream(500_000);
    const res = await gw.request("acme.localhost", "/upload", { method: "POST", body: gen.stream, duplex: "half" } as RequestInit);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ bytes: 500_000, sha256: gen.sha256() });
    const seen = only();
    expect([seen.headers["content-length"], seen.headers["transfer-encoding"]]).toEqual(["500000", undefined]);
  });

  test("the tenants API wants a Content-Length (411) and at most 64 KiB (413)", async () => {
    const token = await gw.token();
    const chunked = await gw.request("localhost", "/api/v2/tenants", {
      method: "POST",
      token,
      headers: { "content-type": "application/json" },
      body: new ReadableStream({
        pull(controller) {
          controller.enqueue(new TextEncoder().encode('{"id":"chunky","friendly_name":"Chunky"}'));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    await expectError(chunked, 411, "needs a Content-Length");
    const big = JSON.stringify({ id: "big", friendly_name: "x".repeat(100 * 1024) });
    const large = await gw.request("localhost", "/api/v2/tenants", { method: "POST", token, headers: { "content-type": "application/json" }, body: big });
    await expectError(large, 413, `request body of ${big.length} bytes is over the gateway API's limit of 65536`);
    expect(up.take()).toEqual([]);
    expect(await gw.gateway.parts.cp.tenant("chunky")).toBeFalsy();
    expect(await gw.gateway.parts.cp.tenant("big")).toBeFalsy();
  });
});

describe("public auth paths", () => {
  const paths: [method: string, path: string, body: string][] = [
    ["GET", "/authorize?client_id=a&response_type=code", ""],
    ["POST", "/oauth/token", "grant_type=authorization_code&code=abc&client_id=a"],
    ["GET", "/u/login?state=xyz", ""],
    ["GET", "/.well-known/jwks.json", ""],
    ["POST", "/co/authenticate", "username=a%40b.c&password=p"],
    ["POST", "/passwordless/start", "connection=email&email=a%40b.c"],
  ];

  test.each(paths)("%s %s is forwarded without a token for acme", async (method, path, body) => {
    const init: RequestInit = body ? { method, body, headers: { "content-type": "application/x-www-form-urlencoded" } } : { method };
    const res = await gw.request("acme.localhost", path, init);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ upstream: true, tenant: "acme", method, path, body: body ?? "" });
    const seen = only();
    expect(seen.headers["tenant-id"]).toBe("acme");
    expect(seen.headers.authorization).toBeUndefined();
    if (body) expect(seen.headers["content-type"]).toBe("application/x-www-form-urlencoded");
  });

  test.each(paths)("%s %s on an unknown tenant → 404, the upstream sees nothing", async (method, path, body) => {
    const res = await gw.request("nobody.localhost", path, body ? { method, body } : { method });
    await expectError(res, 404, "nobody");
    expect(up.take()).toEqual([]);
  });
});

describe("upstream failures", () => {
  test("upstream down → 502 JSON naming it, no internals; it works once the upstream is back", async () => {
    const port = await closedPort();
    const down = await startGateway(["--upstream", `http://127.0.0.1:${port}`]);
    let back: RecordingUpstream | undefined;
    try {
      await createTenants(down, ["acme"]);
      const res = await down.request("acme.localhost", "/authorize?client_id=a");
      const body = await expectError(res, 502, `the upstream at http://127.0.0.1:${port} cannot be reached`);
      expect(body.error).toBe("Bad Gateway");
      expect(body.message).not.toMatch(/\/work|\/src\/|\.ts\b|at \w+ \(|node_modules|Error:/);
      back = startRecordingUpstream(port);
      const ok = await down.request("acme.localhost", "/authorize?client_id=a");
      expect(ok.status).toBe(200);
      expect((await ok.json()).tenant).toBe("acme");
    } finally {
      back?.stop();
      await down.stop();
    }
  });

  test("an upstream that never answers → 504 JSON within about a second; then it answers again", async () => {
    raw.mode = "silent";
    try {
      const started = performance.now();
      const res = await slow.request("acme.localhost", "/authorize");
      const ms = performance.now() - started;
      const body = await expectError(res, 504, "the upstream did not answer within 300 ms");
      expect(body.error).toBe("Gateway Timeout");
      expect(ms).toBeGreaterThanOrEqual(290);
      expect(ms).toBeLessThan(1000);
    } finally {
      raw.mode = "ok";
    }
    const ok = await slow.request("acme.localhost", "/authorize");
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("ok");
  });

  test("the timeout waits for the upstream's answer, not for a slow client's upload", async () => {
    const tight = await startGateway(["--upstream", up.url, "--upstream-timeout-ms", "300"]);
    try {
      await createTenants(tight, ["acme"]);
      up.take();
      // 8 chunks of 10 kB, 100 ms apart: the upload takes ~800 ms, the upstream answers at once after.
      let i = 0;
      const hasher = new Bun.CryptoHasher("sha256");
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (i === 8) return controller.close();
          if (i > 0) await Bun.sleep(100);
          const c = new Uint8Array(10_000).fill(i++);
          hasher.update(c);
          controller.enqueue(c);
        },
      });
      const res = await tight.request("acme.localhost", "/upload", { method: "POST", body, duplex: "half" } as RequestInit);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ bytes: 80_000, sha256: hasher.digest("hex") });
      expect(only().path).toBe("/upload");
    } finally {
      await tight.stop();
    }
  });

  test("an upstream that drops the connection inside its headers → 502; the gateway keeps serving", async () => {
    raw.mode = "partial-head";
    try {
      const res = await slow.request("acme.localhost", "/authorize");
      await expectError(res, 502, `the upstream at ${raw.url} closed the connection without answering`);
    } finally {
      raw.mode = "ok";
    }
    const ok = await slow.request("acme.localhost", "/authorize");
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("ok");
  });

  test("an upstream that drops the connection inside its body does not crash the gateway", async () => {
    raw.mode = "partial-body";
    try {
      const res = await slow.request("acme.localhost", "/authorize").catch((err: Error) => err);
      if (res instanceof Response) {
        expect(res.status).toBe(200);
        // The body cannot complete: either the read fails or it is short.
        const text = await res.text().catch(() => "<aborted>");
        expect(text.length).toBeLessThan(1000);
      }
    } finally {
      raw.mode = "ok";
    }
    const ok = await slow.request("acme.localhost", "/authorize");
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("ok");
    const health = await fetch(`${slow.url}/healthz`);
    expect(health.status).toBe(200);
  });
});

describe("streaming through a separate gateway process", () => {
  const SIZE = 100 * 1024 * 1024;
  const LIMIT = 60 * 1024 * 1024;
  let dir: string;
  let proc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
  let base: string;
  let stream: RecordingUpstream;
  let output = "";

  const memory = (field: "VmRSS" | "VmHWM") => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${proc!.pid}/status`, "utf8"));
    if (!m) throw new Error(`no ${field} for ${proc!.pid}`);
    return Number(m[1]) * 1024;
  };

  /**
   * Runs `transfer` and returns how far the gateway's resident memory rose above where it started:
   * the peak from VmHWM (reset first through clear_refs) and from VmRSS sampled every 10 ms.
   */
  const growthDuring = async (transfer: () => Promise<void>): Promise<number> => {
    let hwmReset = false;
    try {
      writeFileSync(`/proc/${proc!.pid}/clear_refs`, "5");
      hwmReset = true;
    } catch {
      // Not permitted here: the sampled VmRSS is the measure.
    }
    const before = memory("VmRSS");
    let sampled = before;
    const sampler = setInterval(() => {
      sampled = Math.max(sampled, memory("VmRSS"));
    }, 10);
    try {
      await transfer();
    } finally {
      clearInterval(sampler);
    }
    const peak = Math.max(sampled, memory("VmRSS"), hwmReset ? memory("VmHWM") : 0);
    return peak - before;
  };

  beforeAll(async () => {
    dir = tempDir("tenantgate-proxy-");
    stream = startRecordingUpstream();
    const created = await cli(dir, ["tenants", "create", "acme"]);
    if (created.code !== 0) throw new Error(`tenants create: ${created.stderr}`);
    const port = await closedPort();
    base = `http://127.0.0.1:${port}`;
    proc = Bun.spawn([BUN, MAIN, "serve", "--dev", "--data-dir", dir, "--port", String(port), "--upstream", stream.url, "--log-level", "warn"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" },
      stdout: "pipe",
      stderr: "pipe",
      stdin: "ignore",
    });
    const decoder = new TextDecoder();
    void (async () => {
      for await (const c of proc!.stderr) output += decoder.decode(c, { stream: true });
    })();
    void (async () => {
      for await (const c of proc!.stdout) output += decoder.decode(c, { stream: true });
    })();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const res = await fetch(`${base}/readyz`).catch(() => undefined);
      if (res?.status === 200) break;
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`gateway did not start:\n${output}`);
      await Bun.sleep(25);
    }
    // Warm up the proxy path so that the baseline includes its code and buffers.
    for (let i = 0; i < 3; i++) {
      const gen = generatedStream(1024 * 1024);
      const res = await fetch(`${base}/upload`, { method: "POST", headers: { host: "acme.localhost" }, body: gen.stream, duplex: "half" } as RequestInit);
      await res.text();
      await (await fetch(`${base}/download?bytes=${1024 * 1024}`, { headers: { host: "acme.localhost" } })).arrayBuffer();
    }
    stream.take();
  });

  afterAll(async () => {
    if (proc && proc.exitCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc?.kill("SIGKILL"), 5000);
      await proc.exited;
      clearTimeout(timer);
    }
    stream?.stop();
    if (dir) removeDir(dir);
  });

  test("a 100 MB upload (chunked, made on the fly) arrives whole, with bounded gateway memory (it waits in a temporary file)", async () => {
    const gen = generatedStream(SIZE);
    const growth = await growthDuring(async () => {
      const res = await fetch(`${base}/upload`, { method: "POST", headers: { host: "acme.localhost" }, body: gen.stream, duplex: "half" } as RequestInit);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ bytes: SIZE, sha256: gen.sha256() });
    });
    const seen = stream.take();
    expect(seen.map((s) => [s.method, s.path, s.headers["tenant-id"], s.headers["content-length"]])).toEqual([["POST", "/upload", "acme", String(SIZE)]]);
    console.log(`upload: gateway memory grew by ${(growth / 1048576).toFixed(1)} MB`);
    expect(growth).toBeLessThan(LIMIT);
  });

  test("a 100 MB download (streamed by the upstream) arrives whole, with bounded gateway memory", async () => {
    const expected = expectedDigest(SIZE);
    const growth = await growthDuring(async () => {
      const res = await fetch(`${base}/download?bytes=${SIZE}`, { headers: { host: "acme.localhost" } });
      expect(res.status).toBe(200);
      expect(await digestOf(res.body)).toEqual({ bytes: SIZE, sha256: expected });
    });
    expect(stream.take().map((s) => s.path)).toEqual([`/download?bytes=${SIZE}`]);
    console.log(`download: gateway memory grew by ${(growth / 1048576).toFixed(1)} MB`);
    expect(growth).toBeLessThan(LIMIT);
  });
});
