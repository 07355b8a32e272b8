// Slow-upload benchmark (issue 18: "slow uploads starve other clients' management writes; the bar
// is nginx's behaviour on the same test"). In one run, in front of the same small Bun upstream (it
// reads the whole request body, then answers a small JSON):
//   1. nginx as a plain keep-alive reverse proxy (worker_processes 1; it buffers request bodies,
//      in memory up to client_body_buffer_size, then in a temporary file, before it opens an
//      upstream connection)
//   2. tenantgate, default (the front door)
//   3. tenantgate --no-front-door (every request through Bun.serve and fetch)
// For each, one client sends SAMPLES management writes one after another (POST /api/v2/users on
// the tenant acme with a dev token for its organization; the upstream answers 200), another
// SAMPLES plain GETs (/authorize?client_id=x): first idle, then while UPLOADS other connections
// have each sent `POST /oauth/token` with Content-Length: 256 KiB (over the 64 KiB the gateway
// used to buffer) and trickle its body, 1 KiB every 500 ms (128 s in all, far longer than the
// measurement; they are cut off when it ends). nginx is sent the same bytes (Host acme.localhost,
// the same token). The table shows p50, p99 and max of each series; then each tenantgate's
// management-write latency under load against nginx's (p50 and p99 ratios). A series with answers
// other than the upstream's 200 (status 0: none within 10 s), or during which uploads ended, is
// marked. The load average is printed before and after. Everything listens on 127.0.0.1; every
// child process and the temp dir are removed at the end. Needs ulimit -n of at least
// 4 x UPLOADS + 1024 (checked; 20000 is plenty).
//
//   bun bench/slow-uploads.ts [--root <checkout>] [--uploads 400] [--samples 200]
import { mkdirSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { benchArgs } from "./args.ts";
import { benchProcesses, freePort, HOST } from "./processes.ts";

const args = benchArgs({ uploads: 400, samples: 200, root: resolve(import.meta.dir, "..") });
const UPLOADS = args.uploads;
const SAMPLES = args.samples;
const ROOT = resolve(args.root); // the checkout whose src/main.ts runs
const NGINX = "/usr/sbin/nginx";
const BUN = process.execPath;
const [UPLOAD_BYTES, CHUNK, CHUNK_MS] = [256 * 1024, 1024, 500]; // each upload's body, sent CHUNK bytes every CHUNK_MS
const TIMEOUT_MS = 10_000; // one request's answer, at most

const { work, spawn, run, waitFor, startBunServer, runAndCleanUp } = benchProcesses({
  bench: "slow-uploads",
  cwd: ROOT,
  watchdogMs: Math.min(120 + 3 * 4 * SAMPLES, 1800) * 1000, // even if every request of 3 x 4 series timed out
});

// --- the processes -----------------------------------------------------------------------------

const BODY = JSON.stringify({ ok: true, id: "rol_0123456789abcdef", name: "bench" });

function startUpstream(): Promise<number> {
  return startBunServer(
    "upstream",
    (port) => `const body = ${JSON.stringify(BODY)};
Bun.serve({ hostname: ${JSON.stringify(HOST)}, port: ${port}, idleTimeout: 0, async fetch(request) {
  await request.arrayBuffer();
  return new Response(body, { headers: { "content-type": "application/json" } });
} });
`,
  );
}

async function startNginx(upstreamPort: number): Promise<number> {
  const port = freePort();
  const dir = join(work, "nginx");
  const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"];
  for (const d of temps) mkdirSync(join(dir, d), { recursive: true });
  const conf = join(dir, "nginx.conf");
  // Room for every upload and its upstream connection (nginx buffers bodies, so it opens that only at the end).
  writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? "user root;\n" : ""}worker_processes 1;
worker_rlimit_nofile ${4 * UPLOADS + 1024};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections ${2 * UPLOADS + 1024}; }
http {
  access_log off;
  client_max_body_size 0;
  ${temps.map((d) => `${d}_temp_path ${dir}/${d};`).join(" ")}
  upstream app { server ${HOST}:${upstreamPort}; keepalive 64; }
  server {
    listen ${HOST}:${port} backlog=4096;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; }
  }
}
`,
  );
  spawn("nginx", [NGINX, "-p", dir, "-e", join(dir, "error.log"), "-c", conf]);
  await waitFor(`http://${HOST}:${port}/`, "nginx");
  return port;
}

/** A tenant acme, a dev token for it, and `serve --dev` (flags the older checkouts have too). */
async function startGateway(upstreamPort: number, name: string, extra: string[] = []): Promise<{ port: number; token: string }> {
  const main = join(ROOT, "src/main.ts");
  const common = ["--data-dir", join(work, name)];
  await run([BUN, main, "tenants", "create", "acme", ...common]);
  const token = (await run([BUN, main, "token", "--org", "acme", ...common])).trim();
  const port = freePort();
  const args = ["--host", HOST, "--port", String(port), "--upstream", `http://${HOST}:${upstreamPort}`, "--log-level", "warn"];
  spawn(name, [BUN, main, "serve", "--dev", ...common, ...args, ...extra]);
  await waitFor(`http://${HOST}:${port}/readyz`, name);
  return { port, token };
}

// --- the clients -------------------------------------------------------------------------------

const USER_BODY = JSON.stringify({ email: "bench@example.com", connection: "Username-Password-Authentication", password: "not-a-real-one" });
const createUser = (token: string) =>
  `POST /api/v2/users HTTP/1.1\r\nHost: acme.localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${USER_BODY.length}\r\n\r\n${USER_BODY}`;
const GET = "GET /authorize?client_id=x HTTP/1.1\r\nHost: acme.localhost\r\n\r\n";

type Answer = { status: number; body: string };

/** One keep-alive connection, one request at a time (a new one when the server closed the last). */
function client(port: number) {
  let socket: Socket | undefined;
  let buf = Buffer.alloc(0);
  let waiting: ((r: Answer | Error) => void) | undefined;
  const open = () =>
    new Promise<Socket>((ok, fail) => {
      const s = connect({ host: HOST, port, noDelay: true }, () => ok(s));
      s.on("error", (e) => (socket === s && waiting ? waiting(e) : fail(e)));
      s.on("close", () => socket === s && ((socket = undefined), waiting?.(new Error("closed before the answer"))));
      s.on("data", (d) => {
        buf = Buffer.concat([buf, d as Buffer]);
        const end = buf.indexOf("\r\n\r\n") + 4;
        if (end < 4 || !waiting) return;
        const head = buf.toString("latin1", 0, end);
        const last = /\r\ntransfer-encoding: *chunked/i.test(head) ? buf.indexOf("0\r\n\r\n", end) : -1;
        const len = last >= 0 ? last + 5 - end : Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if ((last < 0 && /\r\ntransfer-encoding/i.test(head)) || buf.length < end + len) return; // not all there yet
        const body = buf.toString("utf8", end, end + len);
        buf = Buffer.alloc(0);
        if (/\r\nconnection: *close/i.test(head)) socket = undefined;
        waiting({ status: Number(/^HTTP\/1\.\d (\d+)/.exec(head)?.[1]), body });
      });
    });
  const close = () => {
    socket?.destroy();
    [socket, waiting, buf] = [undefined, undefined, Buffer.alloc(0)];
  };
  /** Milliseconds from writing the request to its whole answer; status 0 for no answer. */
  const request = async (bytes: string): Promise<Answer & { ms: number }> => {
    const t0 = performance.now();
    try {
      socket ??= await open();
      const { promise, resolve: done } = Promise.withResolvers<Answer | Error>();
      waiting = done;
      const timer = setTimeout(() => done(new Error("timed out")), TIMEOUT_MS);
      socket.write(bytes);
      const r = await promise.finally(() => clearTimeout(timer));
      waiting = undefined;
      if (r instanceof Error) throw r;
      return { ms: performance.now() - t0, ...r };
    } catch (err) {
      close();
      return { ms: performance.now() - t0, status: 0, body: (err as Error).message };
    }
  };
  return { request, close };
}

const count = (m: Map<string, number>, key: string) => m.set(key, (m.get(key) ?? 0) + 1);
type Series = { ms: number[]; bad: Map<string, number>; live: number };

/** n requests one after another: their times, what answered other than the upstream's 200, the uploads still on at the end. */
async function series(c: ReturnType<typeof client>, bytes: string, n: number, live = () => UPLOADS): Promise<Series> {
  const s = { ms: [] as number[], bad: new Map<string, number>() };
  for (let i = 0; i < n; i++) {
    const r = await c.request(bytes);
    s.ms.push(r.ms);
    if (r.status !== 200 || r.body !== BODY) count(s.bad, r.status ? `${r.status}` : r.body);
  }
  return { ...s, live: live() };
}

/** UPLOADS connections, each with its POST head sent and its body trickling; `stop` cuts them all. */
async function startUploads(port: number) {
  const head = `POST /oauth/token HTTP/1.1\r\nHost: acme.localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${UPLOAD_BYTES}\r\n\r\n`;
  const events = new Map<string, number>(); // what happened to uploads before `stop`: answers, closes, errors
  const [sockets, ended, timers] = [[] as Socket[], new Set<Socket>(), [] as ReturnType<typeof setTimeout>[]];
  let stopping = false;
  const open = (i: number) =>
    new Promise<void>((done) => {
      const s = connect({ host: HOST, port, noDelay: true }, () => {
        let sent = 0;
        const tick = () => {
          if (sent >= UPLOAD_BYTES || stopping) return;
          s.write("a".repeat(CHUNK));
          if ((sent += CHUNK) >= UPLOAD_BYTES) count(events, "body completed");
        };
        s.write(head);
        // The chunks of all uploads spread evenly over each 500 ms.
        timers.push(setTimeout(() => (tick(), timers.push(setInterval(tick, CHUNK_MS))), (i * CHUNK_MS) / UPLOADS));
        done();
      });
      const end = (what: string) => stopping || (ended.add(s), count(events, what));
      s.on("data", (d) => end(`answered ${/^HTTP\/1\.\d (\d+)/.exec(d.toString("latin1"))?.[1] ?? "?"}`));
      s.on("error", (e) => (end(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`), done()));
      s.on("close", () => end("closed by the proxy"));
      sockets.push(s);
    });
  // 50 at a time, so no listen backlog overflows (a dropped SYN would come back a second later).
  for (let i = 0; i < UPLOADS; i += 50) await Promise.all(Array.from({ length: Math.min(50, UPLOADS - i) }, (_, j) => open(i + j)));
  const began = performance.now();
  return {
    events,
    live: () => UPLOADS - ended.size,
    /** Seconds until the first upload's body would be complete. */
    leftSeconds: () => (UPLOAD_BYTES / CHUNK) * (CHUNK_MS / 1000) - (performance.now() - began) / 1000,
    stop: () => {
      stopping = true;
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
    },
  };
}

// --- the run -----------------------------------------------------------------------------------

const loadAverage = () => loadavg().map((l) => l.toFixed(2)).join(", ");
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)] as number;
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
const cells = (xs: number[], width: number) => [50, 99, 100].map((p) => f2(pct(xs, p)).padStart(width)).join("");

async function main(): Promise<void> {
  const started = performance.now();
  const limit = Number((await run(["sh", "-c", "ulimit -n"])).trim());
  if (limit < 4 * UPLOADS + 1024) throw new Error(`ulimit -n is ${limit}; run under \`ulimit -n 65536\``);
  const upstreamPort = await startUpstream();
  const nginxPort = await startNginx(upstreamPort);
  const gw = await startGateway(upstreamPort, "gateway");
  const old = await startGateway(upstreamPort, "gateway-no-front-door", ["--no-front-door"]);
  const configs = [
    { name: "nginx", port: nginxPort, token: gw.token }, // the very bytes tenantgate gets
    { name: "tenantgate", port: gw.port, token: gw.token },
    { name: "tenantgate --no-front-door", port: old.port, token: old.token },
  ];
  const rev = (await run(["git", "-C", ROOT, "log", "-1", "--format=%h %s"]).catch(() => "?")).trim().slice(0, 80);
  console.log(`slow-upload benchmark: ${UPLOADS} uploads (Content-Length ${UPLOAD_BYTES}, ${CHUNK} B every ${CHUNK_MS} ms), ${SAMPLES} sequential POST /api/v2/users + ${SAMPLES} GET per series`);
  console.log(`root ${ROOT} (${rev})`);
  console.log(`bun ${(await run([BUN, "--version"])).trim()}, ${(await run([NGINX, "-v"])).trim()}, ulimit -n ${limit}, ${cpus().length} CPUs, load average ${loadAverage()}`);

  const rows: { name: string; phase: string; write: Series; get: Series }[] = [];
  for (const c of configs) {
    // One connection for the writes, one for the GETs: the front door hands a connection with a
    // write over to the full gateway, and its later requests would go there too.
    const [writes, gets, write] = [client(c.port), client(c.port), createUser(c.token)];
    // Both must get the upstream's 200 body before anything is timed (a 401 or 403 is fast).
    for (const [what, cl, bytes] of [["POST", writes, write], ["GET", gets, GET]] as const) {
      const r = await cl.request(bytes);
      if (r.status !== 200 || r.body !== BODY) throw new Error(`${c.name} ${what}: expected the upstream's 200 body, got ${r.status} ${r.body.slice(0, 300)}`);
    }
    await series(writes, write, 50); // warm-up
    await series(gets, GET, 50);
    rows.push({ name: c.name, phase: "idle", write: await series(writes, write, SAMPLES), get: await series(gets, GET, SAMPLES) });

    const uploads = await startUploads(c.port);
    await Bun.sleep(1000); // every upload has its head and a chunk or two in
    const t0 = performance.now();
    const write1 = await series(writes, write, SAMPLES, uploads.live);
    rows.push({ name: c.name, phase: `${UPLOADS} uploads`, write: write1, get: await series(gets, GET, SAMPLES, uploads.live) });
    const [seconds, left] = [(performance.now() - t0) / 1000, uploads.leftSeconds()];
    uploads.stop();
    const events = [...uploads.events].map(([k, n]) => `${k}: ${n}`).join(", ") || "none answered, none closed";
    console.log(`  ${c.name}: measured under load in ${seconds.toFixed(1)} s, ${left.toFixed(1)} s of trickle left${left < 0 ? " !!" : ""}; uploads before the end: ${events}`);
    for (const cl of [writes, gets]) cl.close();
    await Bun.sleep(2000); // let the proxy drop the cut-off uploads
  }

  console.log(`\n${"configuration".padEnd(27)}${"phase".padEnd(13)}${["p50", "p99", "max"].map((h) => `POST ${h}`.padStart(10)).join("")}  ${["p50", "p99", "max"].map((h) => `GET ${h}`.padStart(9)).join("")}  (ms)`);
  for (const r of rows) {
    // Answers other than the upstream's, or uploads that ended before the series did (then it was not measured under the load it claims).
    const marks = (["POST", "GET"] as const).flatMap((what) => {
      const s = what === "POST" ? r.write : r.get;
      return [...[...s.bad].map(([k, n]) => `${what} ${k} x${n}`), ...(s.live < UPLOADS ? [`${what}: ${s.live} of ${UPLOADS} uploads left at its end`] : [])];
    });
    console.log(`${r.name.padEnd(27)}${r.phase.padEnd(13)}${cells(r.write.ms, 10)}  ${cells(r.get.ms, 9)}${marks.length ? `  !! ${marks.join(", ")}` : ""}`);
  }
  const loaded = (name: string) => rows.find((r) => r.name === name && r.phase !== "idle")!;
  const ngx = loaded("nginx");
  console.log("");
  for (const name of ["tenantgate", "tenantgate --no-front-door"]) {
    const g = loaded(name);
    const ratio = (p: number) => f2(pct(g.write.ms, p) / pct(ngx.write.ms, p));
    console.log(`${name.padEnd(27)} management write under load vs nginx under load: p50 ${ratio(50)}x, p99 ${ratio(99)}x (GET p99 ${f2(pct(g.get.ms, 99) / pct(ngx.get.ms, 99))}x)`);
  }
  console.log(`\nload average ${loadAverage()}; total ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

await runAndCleanUp(main);
