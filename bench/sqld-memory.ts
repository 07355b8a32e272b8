// Gateway memory over sqld namespaces (issue 20). One sqld on 127.0.0.1 and a Bun upstream that
// answers 200. First a gateway (`serve --dev --database-url …`) over the empty server, idle; it is
// stopped; N tenants are made through the lifecycle in this process; then a gateway over them:
// every tenant routed once (GET /authorize on <tenant>.localhost, 32 in flight), one role written on
// the control plane and waited for until every namespace holds it (the gateway's relay copies it).
// For each gateway, after 2 s and a /metrics scrape: resident memory (VmRSS), its peak (VmHWM) and
// open descriptors, from /proc/<pid>; and the ratios. Load average at the start and end. Every
// process is stopped by its PID and the temp dir removed at the end.
//
//   bun bench/sqld-memory.ts [--tenants 1000] [--active-namespaces 0]
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { LibsqlDb } from "../src/storage/libsql.ts";
import { benchArgs } from "./args.ts";
import { benchProcesses, freePort, HOST } from "./processes.ts";
import { benchSqld, createTenants, dbFlags, load, openSqldTenancy, type Sqld } from "./sqld.ts";

const args = benchArgs({ tenants: 1000, "active-namespaces": 0 });
const N = args.tenants;
const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const { work, spawn, waitFor, atCleanup, startBunServer, runAndCleanUp } = benchProcesses({ bench: "sqld-memory", cwd: ROOT, watchdogMs: 20 * 60_000 });

interface Memory {
  rssMb: number;
  hwmMb: number;
  fds: number;
}

function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]);
  return { rssMb: kb("VmRSS") / 1024, hwmMb: kb("VmHWM") / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

async function startGateway(name: string, sqld: Sqld, upstreamPort: number): Promise<{ proc: Subprocess; port: number }> {
  const port = freePort();
  const proc = spawn(name, [BUN, join(ROOT, "src/main.ts"), "serve", "--dev", "--data-dir", join(work, "gw"), "--log-level", "warn", ...dbFlags(sqld), "--host", HOST, "--port", String(port), "--upstream", `http://${HOST}:${upstreamPort}`]);
  await waitFor(`http://${HOST}:${port}/readyz`, name, 60_000);
  return { proc, port };
}

/** After 2 s and a /metrics scrape (what a monitored gateway answers), its memory. */
async function settled(g: { proc: Subprocess; port: number }): Promise<Memory> {
  await Bun.sleep(2000);
  await (await fetch(`http://${HOST}:${g.port}/metrics`)).text();
  return memoryOf(g.proc.pid);
}

async function stop(proc: Subprocess): Promise<void> {
  proc.kill("SIGTERM");
  const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
  if (!done) proc.kill("SIGKILL");
  await proc.exited;
}

/** `fn` for 0 … n-1, 32 at a time. */
async function each(n: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: 32 }, lane));
}

async function main(): Promise<void> {
  const loadStart = load();
  console.log(`gateway memory over sqld: 0 tenants, then ${N}; load average at start ${loadStart}`);
  const upstreamPort = await startBunServer("upstream", (port) => `Bun.serve({ hostname: ${JSON.stringify(HOST)}, port: ${port}, fetch: () => Response.json({ ok: true }) });`);
  const sqld = await benchSqld(atCleanup, args["active-namespaces"]);

  const empty = await startGateway("gateway-empty", sqld, upstreamPort);
  const atReadyEmpty = memoryOf(empty.proc.pid);
  const idle = await settled(empty);
  await stop(empty.proc);

  const { tenancy, relay, close } = await openSqldTenancy(sqld, join(work, "gw"));
  const prepMs = await createTenants(tenancy, N);
  await relay.drain();
  close();
  console.log(`  ${N} tenants made with lifecycle.create in ${(prepMs / 1000).toFixed(1)} s`);

  const full = await startGateway("gateway-full", sqld, upstreamPort);
  const atReadyFull = memoryOf(full.proc.pid);
  const ids = Array.from({ length: N }, (_, i) => `t${i}`);
  let t0 = performance.now();
  await each(N, async (i) => {
    const res = await fetch(`http://${HOST}:${full.port}/authorize?client_id=x`, { headers: { host: `${ids[i]}.localhost` } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${ids[i]}.localhost answered ${res.status}`);
  });
  const routedMs = performance.now() - t0;
  const afterRouting = memoryOf(full.proc.pid);

  const now = new Date().toISOString();
  t0 = performance.now();
  await new LibsqlDb({ url: sqld.url }, "control_plane").run("INSERT INTO roles (id, tenant_id, name, description, created_at, updated_at) VALUES ('rol_bench_memory', 'control_plane', 'bench memory', 'bench', ?, ?)", [now, now]);
  const clients = ids.map((id) => new LibsqlDb({ url: sqld.url }, id));
  let held = 0;
  while (held < N) {
    if (performance.now() - t0 > 180_000) throw new Error(`${held} of ${N} namespaces hold the role 180 s after it was written`);
    await Bun.sleep(500);
    held = 0;
    await each(N, async (i) => {
      if (await (clients[i] as LibsqlDb).get("SELECT 1 AS x FROM roles WHERE id = 'rol_bench_memory'")) held++;
    });
  }
  const syncedMs = performance.now() - t0;
  const busy = await settled(full);
  await stop(full.proc);

  const row = (name: string, m: Memory) => console.log(`  ${name.padEnd(52)} RSS ${m.rssMb.toFixed(1).padStart(6)} MiB, peak ${m.hwmMb.toFixed(1).padStart(6)} MiB, ${String(m.fds).padStart(4)} fds`);
  console.log("");
  row("0 tenants, at ready", atReadyEmpty);
  row("0 tenants, idle (2 s, /metrics)", idle);
  row(`${N} tenants, at ready`, atReadyFull);
  row(`${N} tenants, every one routed (${(routedMs / 1000).toFixed(1)} s)`, afterRouting);
  row(`${N} tenants, a change synced to all (${(syncedMs / 1000).toFixed(1)} s), 2 s, /metrics`, busy);
  console.log(`  ${N} tenants / 0 tenants: RSS ${(busy.rssMb / idle.rssMb).toFixed(2)}x (+${(busy.rssMb - idle.rssMb).toFixed(1)} MiB, ${(((busy.rssMb - idle.rssMb) * 1024) / N).toFixed(1)} KiB per tenant), peak ${(busy.hwmMb / idle.hwmMb).toFixed(2)}x, fds ${busy.fds} vs ${idle.fds}`);
  const loadEnd = load();
  console.log(`  load average at end ${loadEnd}`);
  console.log(JSON.stringify({ bench: "sqld-memory", tenants: N, prepareMs: Math.round(prepMs), routedMs: Math.round(routedMs), syncedMs: Math.round(syncedMs), atReadyEmpty, idle, atReadyFull, afterRouting, busy, loadStart, loadEnd }));
}

await runAndCleanUp(main);
