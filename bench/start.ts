// Start-up benchmark (issue 21): what a gateway's start over N tenant files costs the requests it
// serves meanwhile. In one run:
//   1. a data directory with N tenants as the lifecycle makes them (bench/tenant-files.ts: two made
//      by lifecycle.create, the rest copies of the first with their ids rewritten, checked against
//      the second), and the time that took;
//   2. "first-start": `serve --dev` over it, timed to /readyz; from the moment it is ready a load of
//      CONCURRENCY management requests in flight (GET /api/v2/users on the last tenant's host with a
//      token for its organization, forwarded to a small Bun upstream), recorded per second: answers,
//      p50/p99 latency, the gateway's CPU (utime+stime from /proc, in cores) and RSS, this process's
//      CPU (the load client's), and events on tenant files in the tenants directory (the -wal and
//      -shm that an SQLite open of a tenant file makes and its close removes; the control plane's
//      own files are not counted);
//   3. "restart" (a rolling deploy): that gateway stopped with SIGTERM, started again on the same
//      directory and measured the same way.
// The start-up is over when the tenant files have been quiet for STEADY seconds, two consecutive
// STEADY-second windows agree (req/s and gateway CPU per answer within 15%), and the gateway's first
// periodic rescan (--rescan-seconds 30) is behind the first of them (on 7e1bba9 it re-reads every
// file the first pass wrote). Only then is GET /api/v2/sync asked whether every tenant is in sync;
// if not, the run goes on. Not sooner: while files are still unjudged the summary judges all of
// them in one go (on 7e1bba9 at 10,000 files, 2.5 s idle and 20 s under this load), and the bench's
// own probe would be charged to the start. Steady state is the last window. A second's "excess" is
// the gateway's CPU beyond what its answers cost at steady (CPU per answer); the start-up work ended
// at the later of the last tenant-file event before the steady window and the end of the last second
// before it whose excess, averaged over 5 s, is above 0.15 core; its cost is the sum of the excess
// until then, in core-seconds. A start stops by itself after MAX seconds of load, settled or not, and
// says so; the figures are then those of its last window.
//
//   bun bench/start.ts [--tenants 10000] [--concurrency 32] [--steady 10] [--max 180]
import { watch } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { benchArgs } from "./args.ts";
import { benchProcesses, cpuSeconds, freePort, HOST, memoryOf } from "./processes.ts";
import { load, quantile } from "./sqld.ts";
import { prepareTenants } from "./tenant-files.ts";

const args = benchArgs({ tenants: 10000, concurrency: 32, steady: 10, max: 180 });
const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const MAIN = join(ROOT, "src/main.ts");
const [READY_LIMIT_MS, STOP_LIMIT_MS] = [60_000, 15_000];
const AGREE = 0.15; // two steady windows agree within this
const EXCESS_CORES = 0.15; // CPU beyond what the answers cost at steady that still counts as start-up work
const RESCAN_S = 30; // the gateway's default, passed explicitly
const W = args.steady;
const { work, spawn, run, startBunServer, runAndCleanUp } = benchProcesses({
  bench: "start",
  cwd: ROOT,
  // Preparing, then two starts that each end by MAX (a summary may take a minute); never cut short.
  watchdogMs: (300 + 2 * ((READY_LIMIT_MS + STOP_LIMIT_MS) / 1000 + args.max + 120)) * 1000,
});

interface Second {
  ok: number;
  bad: number;
  latencies: number[];
  cpu: number; // the gateway's, in cores
  rssMb: number;
  clientCpu: number; // this process's: near 1 core it, not the gateway, would set the pace
  fileEvents: number;
}
type Sync = { tenants: number; in_sync: number; lagging: number; failing: number; unavailable: number };
type Tokens = { tenant: string; org: string; admin: string };
const allInSync = (s: Sync) => s.in_sync === s.tenants && s.tenants === args.tenants;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => (xs.length ? sum(xs) / xs.length : Number.NaN);
const q = (xs: number[], at: number) => (xs.length ? quantile(xs, at) : Number.NaN);
const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "-");
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Over some seconds: req/s, latency quantiles (ms), gateway CPU (cores), CPU per answer (ms). */
function over(seconds: Second[]) {
  const latencies = seconds.flatMap((s) => s.latencies);
  const [ok, cpu] = [sum(seconds.map((s) => s.ok)), sum(seconds.map((s) => s.cpu))];
  return { rps: ok / seconds.length, p50: q(latencies, 0.5), p99: q(latencies, 0.99), cpu: cpu / seconds.length, cpuPerReqMs: (cpu * 1000) / ok };
}

async function syncSummary(port: number, t: Tokens, since: number): Promise<Sync & { at: number; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`http://${HOST}:${port}/api/v2/sync`, { headers: { host: "localhost", authorization: `Bearer ${t.admin}` }, signal: AbortSignal.timeout(120_000) });
  if (res.status !== 200) throw new Error(`GET /api/v2/sync answered ${res.status}: ${await res.text()}`);
  const { tenants, in_sync, lagging, failing, unavailable } = (await res.json()) as Sync;
  return { tenants, in_sync, lagging, failing, unavailable, at: r3((performance.now() - since) / 1000), ms: Math.round(performance.now() - t0) };
}

async function startGateway(name: string, dataDir: string, upstreamPort: number): Promise<{ proc: Subprocess; port: number; readyMs: number }> {
  const port = freePort();
  const t0 = performance.now();
  const proc = spawn(name, [BUN, MAIN, "serve", "--dev", "--data-dir", dataDir, "--host", HOST, "--port", String(port), "--upstream", `http://${HOST}:${upstreamPort}`, "--rescan-seconds", String(RESCAN_S), "--log-level", "warn"]);
  // Polled every 10 ms: processes.ts's waitFor polls every 50 ms, coarse for a start of ~0.7 s.
  while (performance.now() - t0 < READY_LIMIT_MS) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}; see ${work}/${name}.log.err`);
    const ready = await fetch(`http://${HOST}:${port}/readyz`).then((r) => r.arrayBuffer().then(() => r.status === 200), () => false);
    if (ready) return { proc, port, readyMs: performance.now() - t0 };
    await Bun.sleep(10);
  }
  throw new Error(`${name} was not ready within ${READY_LIMIT_MS} ms`);
}

async function stopGateway(proc: Subprocess): Promise<string> {
  const t0 = performance.now();
  proc.kill("SIGTERM");
  const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(STOP_LIMIT_MS).then(() => false)]);
  if (!exited) proc.kill("SIGKILL");
  await proc.exited;
  return exited ? `exited ${proc.exitCode} ${f(performance.now() - t0, 0)} ms after SIGTERM` : `!! still running ${STOP_LIMIT_MS} ms after SIGTERM: killed`;
}

/** The load from `readyAt` on, and a record per whole second after it; `stop` ends both. */
function drive(pid: number, port: number, tokens: Tokens, readyAt: number, fileEvents: number[]) {
  const seconds: Second[] = [];
  const sec = (k: number) => (seconds[k] ??= { ok: 0, bad: 0, latencies: [], cpu: Number.NaN, rssMb: Number.NaN, clientCpu: Number.NaN, fileEvents: 0 });
  const statuses: Record<number, number> = {};
  let [stopping, sampled] = [false, 0];
  const url = `http://${HOST}:${port}/api/v2/users`;
  const headers = { host: `${tokens.tenant}.localhost`, authorization: `Bearer ${tokens.org}` };
  const lane = async () => {
    while (!stopping) {
      const t0 = performance.now();
      const status = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) }).then((r) => r.arrayBuffer().then(() => r.status), () => 0);
      const s = sec(Math.floor((performance.now() - readyAt) / 1000));
      if (status === 200) {
        s.ok++;
        s.latencies.push(performance.now() - t0);
        continue;
      }
      s.bad++;
      statuses[status] = (statuses[status] ?? 0) + 1;
      await Bun.sleep(10); // a refusal is fast: do not spin on it
    }
  };
  const sampler = async () => {
    let [cpu, client] = [cpuSeconds(pid), process.cpuUsage()];
    while (!stopping) {
      await Bun.sleep(Math.max(0, readyAt + (sampled + 1) * 1000 - performance.now()));
      const [now, used] = [cpuSeconds(pid), process.cpuUsage(client)];
      Object.assign(sec(sampled), { cpu: now - cpu, rssMb: memoryOf(pid).rssMb, clientCpu: (used.user + used.system) / 1e6 });
      [cpu, client] = [now, process.cpuUsage()];
      sampled++;
    }
  };
  const running = Promise.all([sampler(), ...Array.from({ length: args.concurrency }, lane)]);
  return {
    statuses,
    sampled: () => sampled,
    /** Stops the load; the whole seconds recorded until now, their file events counted. */
    async stop(): Promise<Second[]> {
      const end = sampled;
      stopping = true;
      await running;
      for (const t of fileEvents) if (t >= readyAt && t < readyAt + end * 1000) sec(Math.floor((t - readyAt) / 1000)).fileEvents++;
      return Array.from({ length: end }, (_, k) => sec(k));
    },
    /** Answers per second and CPU per answer (no latencies: sorting 20 s of them at every check took the client's CPU). */
    rate(from: number, to: number) {
      const span = seconds.slice(from, to);
      const [ok, cpu] = [sum(span.map((s) => s?.ok ?? 0)), sum(span.map((s) => s?.cpu ?? Number.NaN))];
      return { rps: ok / (to - from), cpuPerReq: cpu / ok, everySecondAnswered: span.length === to - from && span.every((s) => s && s.ok > 0) };
    },
  };
}

/** One start, measured from ready until the start-up is over (see the top) or MAX. */
async function scenario(name: string, dataDir: string, controlPlane: string, upstreamPort: number, tokens: Tokens) {
  const loadAtStart = load();
  const fileEvents: number[] = [];
  const tenantFile = /^([^.]+)\.sqlite(-wal|-shm|-journal)?$/;
  const watcher = watch(join(dataDir, "tenants"), (_, name) => {
    const id = tenantFile.exec(String(name))?.[1];
    if (id && id !== controlPlane) fileEvents.push(performance.now());
  });
  const { proc, port, readyMs } = await startGateway(name, dataDir, upstreamPort);
  const readyAt = performance.now();
  const atReady = { cpu: cpuSeconds(proc.pid), rssMb: memoryOf(proc.pid).rssMb, fileEvents: fileEvents.length };
  const traffic = drive(proc.pid, port, tokens, readyAt, fileEvents);
  const asks: Awaited<ReturnType<typeof syncSummary>>[] = [];
  let outcome = `!! not settled within --max ${args.max} s`;
  for (let seen = 0, lastAsk = -W; traffic.sampled() < args.max; ) {
    await Bun.sleep(50);
    const n = traffic.sampled();
    if (n === seen || n < Math.max(2 * W, RESCAN_S + W) || n - lastAsk < W) continue;
    seen = n;
    if (performance.now() - (fileEvents.at(-1) ?? 0) < W * 1000) continue;
    const [a, b] = [traffic.rate(n - 2 * W, n - W), traffic.rate(n - W, n)];
    if (!a.everySecondAnswered || !b.everySecondAnswered || Math.abs(b.rps / a.rps - 1) > AGREE || Math.abs(b.cpuPerReq / a.cpuPerReq - 1) > AGREE) continue;
    lastAsk = n;
    asks.push(await syncSummary(port, tokens, readyAt));
    if (allInSync(asks.at(-1)!)) {
      outcome = `settled: files quiet, two ${W} s windows agree, every tenant in sync`;
      break;
    }
  }
  const hwmMb = memoryOf(proc.pid).hwmMb; // the peak over the gateway's whole life, read before it stops
  const seconds = await traffic.stop();
  watcher.close();
  const lastAsk = asks.at(-1);
  const finalSync = lastAsk && allInSync(lastAsk) ? lastAsk : await syncSummary(port, tokens, readyAt);
  const stopped = await stopGateway(proc);

  const end = seconds.length;
  const steady = over(seconds.slice(end - W));
  const excess = seconds.map((s) => s.cpu - (steady.cpuPerReqMs / 1000) * s.ok);
  // One second's CPU is noisy here (±0.1 core at steady, dips of 20% for seconds): averaged over 5 s.
  const smooth = excess.map((_, k) => mean(excess.slice(Math.max(0, k - 2), k + 3)));
  const cpuEnd = 1 + smooth.slice(0, end - W).findLastIndex((x) => x > EXCESS_CORES);
  const filesEnd = 1 + seconds.slice(0, end - W).findLastIndex((s) => s.fileEvents > 0);
  const startupEnd = Math.max(cpuEnd, filesEnd);
  const pass = seconds.slice(0, Math.max(1, startupEnd));
  const [first, first10] = [over(seconds.slice(0, 1)), over(seconds.slice(0, 10))];
  const rssPeak = Math.max(...seconds.map((s) => s.rssMb));
  const r = {
    name,
    loadAtStart,
    readyMs: Math.round(readyMs),
    atReady: { cpuS: r3(atReady.cpu), rssMb: Math.round(atReady.rssMb), fileEvents: atReady.fileEvents },
    outcome,
    asks: asks.map(({ at, in_sync, ms }) => ({ at, in_sync, ms })),
    finalSync,
    steady: { rps: Math.round(steady.rps), p50: r3(steady.p50), p99: r3(steady.p99), cpu: r3(steady.cpu), cpuPerReqMs: r3(steady.cpuPerReqMs) },
    first: { rps: r3(first.rps / steady.rps), p99: r3(first.p99 / steady.p99) },
    first10: { rps: r3(first10.rps / steady.rps), p99: r3(first10.p99 / steady.p99) },
    startupEndS: startupEnd,
    cpuEndS: cpuEnd,
    fileWorkEndS: filesEnd,
    startupCpu: { max: r3(Math.max(...pass.map((s) => s.cpu))), mean: r3(mean(pass.map((s) => s.cpu))), excessMax: r3(Math.max(...excess.slice(0, pass.length))), excessCoreSeconds: r3(sum(excess.slice(0, startupEnd))) },
    rss: { hwmMb: Math.round(hwmMb), sampledPeakMb: Math.round(rssPeak), atSecond: seconds.findIndex((s) => s.rssMb === rssPeak) },
    notAnswered200: traffic.statuses,
    stopped,
    seconds: seconds.map((s, k) => [s.ok, Number(f(q(s.latencies, 0.5))), Number(f(q(s.latencies, 0.99))), Number(f(s.cpu)), Number(f(excess[k]!)), Math.round(s.rssMb), Number(f(s.clientCpu)), s.fileEvents]),
  };
  report(r, seconds, excess);
  return r;
}

function report(r: Awaited<ReturnType<typeof scenario>>, seconds: Second[], excess: number[]): void {
  console.log(`\n== ${r.name} (load average at its start ${r.loadAtStart})`);
  console.log(`ready in ${r.readyMs} ms (${f(r.atReady.cpuS)} s of CPU, RSS ${r.atReady.rssMb} MB, ${r.atReady.fileEvents} file events)`);
  console.log("   s   req/s   p50 ms   p99 ms   cpu  excess  RSS MB  client cpu  file events");
  seconds.forEach((s, k) => {
    const cols = [[k, 4], [s.ok, 7], [f(q(s.latencies, 0.5)), 8], [f(q(s.latencies, 0.99)), 8], [f(s.cpu), 5], [f(excess[k]!), 7], [f(s.rssMb, 0), 7], [f(s.clientCpu), 11], [s.fileEvents, 12]] as const;
    console.log(cols.map(([v, w]) => String(v).padStart(w)).join(" ") + (s.bad ? `  !! ${s.bad} not 200` : ""));
  });
  const sy = r.finalSync;
  console.log(`${r.outcome}; GET /api/v2/sync asked at ${r.asks.map((c) => `${f(c.at, 1)} s (${c.in_sync} in sync, answered in ${c.ms} ms)`).join(", ") || "-"}`);
  console.log(`steady (last ${W} s): ${f(r.steady.rps, 0)} req/s, p50 ${f(r.steady.p50)} ms, p99 ${f(r.steady.p99)} ms, gateway CPU ${f(r.steady.cpu)} cores (${f(r.steady.cpuPerReqMs * 1000, 0)} µs per answer)`);
  console.log(`first second:     req/s ${f(r.first.rps)}x steady, p99 ${f(r.first.p99)}x   (goal: >= 0.9x, <= 1.5x)`);
  console.log(`first 10 seconds: req/s ${f(r.first10.rps)}x steady, p99 ${f(r.first10.p99)}x`);
  const c = r.startupCpu;
  console.log(`start-up work ended ${r.startupEndS} s after ready (tenant-file events until ${r.fileWorkEndS} s, excess above ${EXCESS_CORES} core until ${r.cpuEndS} s) and cost ${f(c.excessCoreSeconds, 1)} core-seconds beyond the answers'`);
  console.log(`gateway CPU per second until then: max ${f(c.max)}, mean ${f(c.mean)} cores; excess at most ${f(c.excessMax)} core`);
  console.log(`sync at ${f(sy.at, 1)} s: ${sy.in_sync}/${sy.tenants} in sync, ${sy.lagging} lagging, ${sy.failing} failing, ${sy.unavailable} unavailable${allInSync(sy) ? "" : "   !! not every tenant in sync"}`);
  console.log(`RSS peak (VmHWM) ${r.rss.hwmMb} MB; highest per-second sample ${r.rss.sampledPeakMb} MB at ${r.rss.atSecond} s`);
  if (Object.keys(r.notAnswered200).length) console.log(`!! answers other than 200: ${JSON.stringify(r.notAnswered200)} (0: no answer)`);
  console.log(`stop: ${r.stopped}`);
}

async function main(): Promise<void> {
  const loadStart = load();
  console.log(`start-up over ${args.tenants} tenant files: GET /api/v2/users, ${args.concurrency} in flight, steady window ${W} s, at most ${args.max} s per start; load average at start ${loadStart}`);
  const dataDir = join(work, "data");
  const prepared = await prepareTenants(dataDir, args.tenants);
  // Written back before the first start, which would otherwise wait on the kernel flushing them.
  const t0 = performance.now();
  await run(["sync"]);
  const syncMs = performance.now() - t0;
  console.log(`prepared ${args.tenants} tenants in ${f(prepared.ms / 1000, 1)} s, written to disk in ${f(syncMs / 1000, 1)} s more (files of ${f(prepared.fileBytes / 1024, 0)} KiB; control-plane rows per tenant ${JSON.stringify(prepared.rowsPerTenant)})`);
  const upstreamPort = await startBunServer(
    "upstream",
    (port) => `Bun.serve({ hostname: ${JSON.stringify(HOST)}, port: ${port}, async fetch(request) {
  await request.arrayBuffer();
  return Response.json({ users: [], total: 0 });
} });`,
  );
  const tenant = prepared.ids.at(-1) as string;
  const cli = (...a: string[]) => run([BUN, MAIN, ...a, "--data-dir", dataDir]).then((s) => s.trim());
  const tokens: Tokens = { tenant, org: await cli("token", "--org", tenant), admin: await cli("token") };
  const scenarios = [];
  for (const name of ["first-start", "restart"]) scenarios.push(await scenario(name, dataDir, prepared.controlPlane, upstreamPort, tokens));
  const loadEnd = load();
  console.log(`\nload average at end ${loadEnd}`);
  console.log(JSON.stringify({ bench: "start", tenants: args.tenants, concurrency: args.concurrency, steadyS: W, prepareMs: Math.round(prepared.ms), syncMs: Math.round(syncMs), loadStart, loadEnd, scenarios }));
}

await runAndCleanUp(main);
