// Proxy benchmark (issue 3). Measures in one run, with wrk against the same small Bun upstream:
//   1. the upstream direct
//   2. nginx as a plain keep-alive reverse proxy (worker_processes 1), sent a bare request and, as
//      the baseline for the management path, the very request tenantgate gets (Host and the
//      ~900-byte bearer token, which wrk, the kernel and the upstream then carry for both)
//   3. tenantgate on a management path (host routing, cached JWT verification, the access rule,
//      the synced-entity guard's method check, forwarding)
//   4. tenantgate on a public path (/authorize: host routing and forwarding only)
//   5. tenantgate /authorize with --no-front-door (every request through Bun.serve and fetch, as before
//      the front door)
//   6. for reference, the least a Bun proxy does: Bun.serve + fetch pass-through (no routing, no
//      checks), and a raw-socket relay that only rewrites the head (one upstream connection per
//      client connection, content-length bodies), the floor any gateway on Bun sockets starts from
// Each configuration gets a warm-up, then ROUNDS timed runs, interleaved round by round so machine
// noise hits them alike; the table shows medians (and the spread, so noise is visible) and ratios.
// Everything listens on 127.0.0.1; every child process and the temp dir are removed at the end.
//
//   bun bench/proxy.ts [--duration 10] [--warmup 2] [--rounds 3] [--connections 50]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { benchArgs } from "./args.ts";
import { benchProcesses, cpuSeconds, freePort, HOST } from "./processes.ts";

const { duration: DURATION, warmup: WARMUP, rounds: ROUNDS, connections: CONNECTIONS } = benchArgs({ duration: 10, warmup: 2, rounds: 3, connections: 50 });
const WRK = "/usr/bin/wrk";
const NGINX = "/usr/sbin/nginx";
const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;

const { work, spawn, track, child, run, waitFor, startBunServer, runAndCleanUp } = benchProcesses({
  bench: "proxy",
  cwd: ROOT,
  watchdogMs: (60 + (WARMUP + DURATION * ROUNDS) * 5 + 60) * 1000,
});

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

// --- wrk ---------------------------------------------------------------------------------------

interface WrkResult {
  rps: number;
  p50: number; // ms
  p99: number; // ms
  requests: number;
  errors: string;
  non2xx: number;
  cpuUsPerReq: number; // CPU of the measured server process per request
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}

function parseWrk(out: string): Omit<WrkResult, "cpuUsPerReq"> {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? "");
  const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? "");
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const errors = /Socket errors:.*/.exec(out)?.[0] ?? "";
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (!Number.isFinite(rps) || !Number.isFinite(p50) || !Number.isFinite(p99)) throw new Error(`cannot parse wrk output:\n${out}`);
  return { rps, p50, p99, requests, errors, non2xx };
}

interface Target {
  name: string;
  url: string;
  headers: string[];
  /** The pid whose CPU time is the server's (the nginx worker, the gateway). */
  pid: () => number | undefined;
}

async function wrk(t: Target, seconds: number): Promise<WrkResult> {
  const cmd = [WRK, "-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--timeout", "5s", "--latency"];
  for (const h of t.headers) cmd.push("-H", h);
  cmd.push(t.url);
  const pid = t.pid();
  const cpu0 = pid ? cpuSeconds(pid) : Number.NaN;
  const proc = track("wrk", Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", stdin: "ignore" }));
  const killer = setTimeout(() => proc.kill("SIGKILL"), (seconds + 15) * 1000);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(killer);
  if (code !== 0) throw new Error(`wrk for ${t.name} exited ${code}: ${err}${out}`);
  const r = parseWrk(out);
  const cpu = pid ? cpuSeconds(pid) - cpu0 : Number.NaN;
  return { ...r, cpuUsPerReq: (cpu / r.requests) * 1e6 };
}

// --- the processes -----------------------------------------------------------------------------

const BODY = JSON.stringify({
  id: "usr_0123456789abcdef",
  email: "someone@example.com",
  name: "Some One",
  tenant: "acme",
  created_at: "2026-11-29T00:00:00.000Z",
  app_metadata: { plan: "pro" },
  pad: "",
});
const PADDED = BODY.replace('"pad":""', `"pad":"${"x".repeat(Math.max(0, 200 - BODY.length))}"`);

function startUpstream(): Promise<number> {
  return startBunServer(
    "upstream",
    (port) => `const body = ${JSON.stringify(PADDED)};
Bun.serve({ hostname: ${JSON.stringify(HOST)}, port: ${port}, fetch: () => new Response(body, { headers: { "content-type": "application/json" } }) });
`,
  );
}

async function startNginx(upstreamPort: number): Promise<{ port: number; master: Subprocess }> {
  const port = freePort();
  const dir = join(work, "nginx");
  mkdirSync(dir);
  for (const d of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d));
  const conf = join(dir, "nginx.conf");
  const asRoot = process.getuid?.() === 0;
  writeFileSync(
    conf,
    `${asRoot ? "user root;\n" : ""}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app { server ${HOST}:${upstreamPort}; keepalive 64; }
  server {
    listen ${HOST}:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
}
`,
  );
  const master = spawn("nginx", [NGINX, "-p", dir, "-e", join(dir, "error.log"), "-c", conf]);
  await waitFor(`http://${HOST}:${port}/`, "nginx");
  return { port, master };
}

/** Bun.serve forwarding every request with fetch: copy the headers, drop Host, return the upstream's Response. */
function startBunPassThrough(upstreamPort: number): Promise<number> {
  return startBunServer(
    "passthrough",
    (port) => `const origin = "http://${HOST}:${upstreamPort}";
Bun.serve({
  hostname: ${JSON.stringify(HOST)},
  port: ${port},
  async fetch(request) {
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    headers.delete("host");
    return fetch(origin + url.pathname + url.search, { method: request.method, headers, redirect: "manual", decompress: false });
  },
});
`,
  );
}

/**
 * The floor for a proxy on Bun's raw sockets: per client connection one upstream connection; each
 * request head has its Host replaced and tenant-id, X-Forwarded-* and a request id added; each
 * response head gets the request id; content-length framing only. No routing, no checks.
 */
function startRawRelay(upstreamPort: number): Promise<number> {
  return startBunServer(
    "raw-relay",
    (port) => `const UP = ${upstreamPort};
const END = Buffer.from("\\r\\n\\r\\n");
function onResponse(p, d) {
  let buf = p.ubuf ? Buffer.concat([p.ubuf, d]) : d;
  for (;;) {
    const end = buf.indexOf(END);
    if (end < 0) break;
    const head = buf.toString("latin1", 0, end);
    const len = Number(/\\r\\ncontent-length: *(\\d+)/i.exec(head)?.[1] ?? 0);
    if (buf.length - end - 4 < len) break;
    const out = head + "\\r\\nx-request-id: " + p.id + "\\r\\n\\r\\n";
    const msg = Buffer.allocUnsafe(out.length + len);
    msg.write(out, 0, "latin1");
    buf.copy(msg, out.length, end + 4, end + 4 + len);
    p.client.write(msg);
    if (p.close) return void p.client.end();
    buf = buf.subarray(end + 4 + len);
    if (buf.length === 0) { p.ubuf = null; return; }
  }
  p.ubuf = Buffer.from(buf);
}
Bun.listen({ hostname: ${JSON.stringify(HOST)}, port: ${port}, socket: {
  open(client) {
    const p = { client, up: null, cbuf: null, ubuf: null, pending: [], id: "", close: false };
    client.data = p;
    Bun.connect({ hostname: ${JSON.stringify(HOST)}, port: UP, data: p, socket: {
      data: (up, d) => onResponse(up.data, d), close: (up) => up.data.client.end(), error() {},
    } }).then((up) => { p.up = up; for (const s of p.pending) up.write(s); p.pending = null; }, () => client.end());
  },
  data(client, d) {
    const p = client.data;
    let buf = p.cbuf ? Buffer.concat([p.cbuf, d]) : d;
    for (;;) {
      const end = buf.indexOf(END);
      if (end < 0) break;
      const lines = buf.toString("latin1", 0, end).split("\\r\\n");
      let out = lines[0] + "\\r\\nhost: ${HOST}:" + UP + "\\r\\n";
      let host = "";
      for (let i = 1; i < lines.length; i++) {
        const name = lines[i].slice(0, lines[i].indexOf(":")).toLowerCase();
        if (name === "host") host = lines[i].slice(5).trim();
        else if (name === "connection") p.close = /close/i.test(lines[i]);
        else if (name !== "tenant-id") out += lines[i] + "\\r\\n";
      }
      p.id = crypto.randomUUID();
      out += "tenant-id: acme\\r\\nx-forwarded-host: " + host + "\\r\\nx-forwarded-proto: http\\r\\nx-forwarded-for: ${HOST}\\r\\nx-request-id: " + p.id + "\\r\\n\\r\\n";
      if (p.up) p.up.write(out); else p.pending.push(out);
      buf = buf.subarray(end + 4);
      if (buf.length === 0) { p.cbuf = null; return; }
    }
    p.cbuf = Buffer.from(buf);
  },
  close(client) { client.data.up?.end(); },
  error() {},
} });
`,
  );
}

async function startGateway(upstreamPort: number, name = "gateway", extra: string[] = []): Promise<{ port: number; proc: Subprocess; token: string }> {
  const data = join(work, name);
  const common = ["--data-dir", data];
  await run([BUN, "src/main.ts", "tenants", "create", "acme", ...common]);
  const token = (await run([BUN, "src/main.ts", "token", "--org", "acme", ...common])).trim();
  const port = freePort();
  const proc = spawn(name, [
    BUN,
    "src/main.ts",
    "serve",
    "--dev",
    ...common,
    "--host",
    HOST,
    "--port",
    String(port),
    "--upstream",
    `http://${HOST}:${upstreamPort}`,
    "--log-level",
    "warn",
    ...extra,
  ]);
  await waitFor(`http://${HOST}:${port}/readyz`, name);
  return { port, proc, token };
}

// --- the run -----------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-");
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);

async function main(): Promise<void> {
  const started = performance.now();
  const bunVersion = (await run([BUN, "--version"])).trim();
  const upstreamPort = await startUpstream();
  const upstreamPid = child("upstream")?.pid;
  const nginx = await startNginx(upstreamPort);
  const gw = await startGateway(upstreamPort);
  const passPort = await startBunPassThrough(upstreamPort);
  const passPid = child("passthrough")?.pid;
  const relayPort = await startRawRelay(upstreamPort);
  const relayPid = child("raw-relay")?.pid;
  const old = await startGateway(upstreamPort, "gateway-no-front-door", ["--no-front-door"]);

  const tenantHeaders = ["Host: acme.localhost", `Authorization: Bearer ${gw.token}`];
  const targets: Target[] = [
    { name: "upstream direct", url: `http://${HOST}:${upstreamPort}/api/v2/users`, headers: [], pid: () => upstreamPid },
    { name: "nginx", url: `http://${HOST}:${nginx.port}/api/v2/users`, headers: [], pid: () => childPids(nginx.master.pid)[0] },
    { name: "nginx, same request", url: `http://${HOST}:${nginx.port}/api/v2/users`, headers: tenantHeaders, pid: () => childPids(nginx.master.pid)[0] },
    { name: "tenantgate /api/v2/users", url: `http://${HOST}:${gw.port}/api/v2/users`, headers: tenantHeaders, pid: () => gw.proc.pid },
    { name: "tenantgate /authorize", url: `http://${HOST}:${gw.port}/authorize?client_id=x`, headers: ["Host: acme.localhost"], pid: () => gw.proc.pid },
    { name: "tenantgate --no-front-door", url: `http://${HOST}:${old.port}/authorize?client_id=x`, headers: ["Host: acme.localhost"], pid: () => old.proc.pid },
    { name: "bun fetch pass-through", url: `http://${HOST}:${passPort}/api/v2/users`, headers: [], pid: () => passPid },
    { name: "bun raw-socket relay", url: `http://${HOST}:${relayPort}/api/v2/users`, headers: ["Host: acme.localhost"], pid: () => relayPid },
  ];

  // Every path must answer the upstream's 200 body before anything is timed (a 401 or 404 is fast
  // and would flatter the gateway).
  for (const t of targets) {
    const headers = Object.fromEntries(t.headers.map((h) => [h.slice(0, h.indexOf(":")), h.slice(h.indexOf(":") + 1).trim()]));
    // fetch does not let Host be overridden, so the check goes through wrk-like raw HTTP.
    const res = await rawGet(t.url, headers);
    if (res.status !== 200 || res.body !== PADDED) throw new Error(`${t.name}: expected the upstream's 200 body, got ${res.status} ${res.body.slice(0, 300)}`);
  }

  console.log(`proxy benchmark: wrk -t1 -c${CONNECTIONS} -d${DURATION}s --latency, warm-up ${WARMUP}s, ${ROUNDS} rounds (median), ${PADDED.length}-byte JSON upstream body`);
  console.log(`bun ${bunVersion}, ${(await run([NGINX, "-v"])).trim()}, gateway --log-level warn, ${cpus().length} CPUs`);
  for (const t of targets) await wrk(t, WARMUP);

  const results = new Map<string, WrkResult[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of targets) {
      const r = await wrk(t, DURATION);
      results.get(t.name)!.push(r);
      const trouble = r.non2xx > 0 || r.errors ? `  !! non-2xx ${r.non2xx} ${r.errors}` : "";
      console.log(`  round ${round + 1} ${pad(t.name, 26)} ${lpad(f1(r.rps), 9)} req/s  p50 ${lpad(f2(r.p50), 6)} ms  p99 ${lpad(f2(r.p99), 6)} ms  cpu ${lpad(f1(r.cpuUsPerReq), 5)} µs/req${trouble}`);
    }
  }

  const summary = new Map(
    targets.map((t) => {
      const rs = results.get(t.name)!;
      return [
        t.name,
        {
          rps: median(rs.map((r) => r.rps)),
          rpsMin: Math.min(...rs.map((r) => r.rps)),
          rpsMax: Math.max(...rs.map((r) => r.rps)),
          p50: median(rs.map((r) => r.p50)),
          p99: median(rs.map((r) => r.p99)),
          cpu: median(rs.map((r) => r.cpuUsPerReq)),
          bad: rs.reduce((n, r) => n + r.non2xx, 0),
        },
      ];
    }),
  );

  console.log("");
  console.log(`${pad("configuration", 26)} ${lpad("req/s", 9)} ${lpad("(min-max)", 17)} ${lpad("p50 ms", 7)} ${lpad("p99 ms", 7)} ${lpad("cpu µs/req", 10)}`);
  for (const [name, s] of summary) {
    console.log(
      `${pad(name, 26)} ${lpad(f1(s.rps), 9)} ${lpad(`(${s.rpsMin.toFixed(0)}-${s.rpsMax.toFixed(0)})`, 17)} ${lpad(f2(s.p50), 7)} ${lpad(f2(s.p99), 7)} ${lpad(f1(s.cpu), 10)}${s.bad ? `  !! ${s.bad} non-2xx` : ""}`,
    );
  }
  const direct = summary.get("upstream direct")!;
  const ngx = summary.get("nginx")!;
  const pass = summary.get("bun fetch pass-through")!;
  const relay = summary.get("bun raw-socket relay")!;
  const before = summary.get("tenantgate --no-front-door")!;
  const ngxSame = summary.get("nginx, same request")!;
  console.log("");
  // Each tenantgate run is judged against nginx given the same request bytes (the /authorize
  // request, Host only, is the size of the bare one); the management path is also shown against
  // the bare request, which spares wrk, the kernel and the upstream the token's bytes.
  const baselines: [string, typeof ngx, string][] = [
    ["tenantgate /api/v2/users", ngxSame, "nginx, same request"],
    ["tenantgate /authorize", ngx, "nginx"],
  ];
  for (const [name, base, baseName] of baselines) {
    const g = summary.get(name)!;
    const rpsRatio = g.rps / base.rps;
    const p99Ratio = g.p99 / base.p99;
    console.log(`${name} (against ${baseName}):`);
    console.log(`  req/s vs nginx   ${f2(rpsRatio)}x   (target >= 0.80x)  ${rpsRatio >= 0.8 ? "met" : "NOT met"}`);
    console.log(`  p99   vs nginx   ${f2(p99Ratio)}x   (target <= 1.50x)  ${p99Ratio <= 1.5 ? "met" : "NOT met"}`);
    if (base !== ngx) console.log(`  against the bare request to nginx: req/s ${f2(g.rps / ngx.rps)}x, p99 ${f2(g.p99 / ngx.p99)}x`);
    console.log(`  req/s vs direct  ${f2(g.rps / direct.rps)}x   p99 vs direct ${f2(g.p99 / direct.p99)}x`);
    console.log(`  req/s vs bun fetch pass-through  ${f2(g.rps / pass.rps)}x, vs bun raw-socket relay ${f2(g.rps / relay.rps)}x`);
  }
  const front = summary.get("tenantgate /authorize")!;
  console.log(`front door on /authorize: req/s ${f2(front.rps / before.rps)}x, CPU per request ${f1(before.cpu)} -> ${f1(front.cpu)} µs`);
  console.log(`bun fetch pass-through vs nginx: req/s ${f2(pass.rps / ngx.rps)}x, p99 ${f2(pass.p99 / ngx.p99)}x`);
  console.log(`bun raw-socket relay vs nginx:   req/s ${f2(relay.rps / ngx.rps)}x, p99 ${f2(relay.p99 / ngx.p99)}x`);
  console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** A GET with an arbitrary Host header (fetch would replace it), over a plain socket. */
async function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const lines = [`GET ${u.pathname}${u.search} HTTP/1.1`, `Host: ${headers.Host ?? u.host}`, "Connection: close"];
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== "host") lines.push(`${k}: ${v}`);
  const chunks: Uint8Array[] = [];
  const { promise, resolve: done, reject } = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    hostname: u.hostname,
    port: Number(u.port),
    socket: {
      data: (_s, d) => void chunks.push(new Uint8Array(d)),
      close: () => done(),
      error: (_s, e) => reject(e),
    },
  });
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  await Promise.race([promise, Bun.sleep(5000).then(() => reject(new Error(`no answer from ${url}`)))]);
  const text = Buffer.concat(chunks).toString("utf8");
  const [head = "", ...rest] = text.split("\r\n\r\n");
  let body = rest.join("\r\n\r\n");
  if (/transfer-encoding:\s*chunked/i.test(head)) body = dechunk(body);
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), body };
}

function dechunk(s: string): string {
  let out = "";
  let at = 0;
  for (;;) {
    const nl = s.indexOf("\r\n", at);
    const size = parseInt(s.slice(at, nl), 16);
    if (!size) return out;
    out += s.slice(nl + 2, nl + 2 + size);
    at = nl + 2 + size + 2;
  }
}

await runAndCleanUp(main);
