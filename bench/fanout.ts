// Fan-out benchmark (issue 4). For N tenant files (default 1,000 and 10,000) it measures, each in a
// fresh process so memory and descriptors are the relay's own:
//   baseline: a bare loop that opens each tenant file, upserts one row and closes it;
//   one:      one control-plane change, until every tenant has applied it (relay.drain());
//   burst:    100 control-plane changes, until every tenant has applied them all;
// and prints times, throughputs, the ratio to the baseline, peak RSS and open descriptors.
//
//   bun bench/fanout.ts [--tenants 1000,10000] [--rounds 3]
import { Database } from "bun:sqlite";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { benchArgs } from "./args.ts";
import { loadConfig } from "../src/config/index.ts";
import { openRelay } from "../src/sync/index.ts";
import { closeTenancy, openTenancy } from "../src/tenancy/index.ts";

const args = benchArgs({ dir: "", n: 0, changes: 1, tenants: "1000,10000", rounds: 3 });
const mode = args.positionals[0];

async function open(dataDir: string) {
  const { config } = loadConfig({ argv: ["--dev", "--data-dir", dataDir, "--log-level", "silent"], env: {} });
  const log = pino({ level: "silent" });
  const tenancy = await openTenancy(config, log);
  return { config, tenancy, relay: await openRelay(tenancy, config, log) };
}

const rssMb = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1]) / 1024;
const fds = () => readdirSync("/proc/self/fd").length;
let change = 0;
function roleChange(cp: Database): void {
  const now = new Date().toISOString();
  change++;
  const id = `${process.pid}_${change}`;
  cp.query("INSERT INTO roles (id, tenant_id, name, created_at, updated_at) VALUES (?, 'control_plane', ?, ?, ?)").run(`rol_bench_${id}`, `bench role ${id}`, now, now);
}

if (mode === "prepare") {
  const { tenancy } = await open(args.dir);
  const n = args.n;
  for (let i = 0; i < n; i++) await tenancy.lifecycle.create({ id: `t${i}`, friendly_name: `T${i}` });
  closeTenancy(tenancy);
} else if (mode === "baseline") {
  const dir = join(args.dir, "tenants");
  const n = args.n;
  let maxFds = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const db = new Database(join(dir, `t${i}.sqlite`));
    db.exec("PRAGMA busy_timeout = 5000");
    db.query("INSERT INTO tenantgate_sync (id, cursor, updated_at) VALUES (1, 0, 'x') ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at").run();
    db.close();
    if (i % 500 === 0) maxFds = Math.max(maxFds, fds());
  }
  console.log(JSON.stringify({ ms: performance.now() - t0, rssMb: rssMb(), maxFds }));
} else if (mode === "fanout") {
  const { tenancy, relay } = await open(args.dir);
  const changes = args.changes;
  // Start from a relay that knows every cursor (as a running gateway does), not from a cold start.
  await relay.drain();
  let maxFds = fds();
  const sampler = setInterval(() => (maxFds = Math.max(maxFds, fds())), 20);
  const writer = new Database(tenancy.cp.path);
  writer.exec("PRAGMA busy_timeout = 5000");
  const t0 = performance.now();
  for (let i = 0; i < changes; i++) roleChange(writer);
  await relay.drain();
  const ms = performance.now() - t0;
  clearInterval(sampler);
  const s = await relay.summary();
  console.log(JSON.stringify({ ms, rssMb: rssMb(), maxFds, capacity: tenancy.files?.pool.capacity, inSync: s.in_sync, tenants: s.tenants }));
  writer.close();
  closeTenancy(tenancy);
} else {
  const sizes = args.tenants.split(",").map(Number);
  const ROUNDS = args.rounds;
  const self = import.meta.path;
  const run = async (args: string[]) => {
    const p = Bun.spawn([process.execPath, self, ...args], { stdout: "pipe", stderr: "inherit" });
    const text = await new Response(p.stdout).text();
    await p.exited;
    return text.trim() ? JSON.parse(text.trim().split("\n").pop() as string) : {};
  };
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), "bench-fanout-"));
    try {
      const t0 = performance.now();
      await run(["prepare", "--dir", dir, "--n", String(n)]);
      console.log(`\n${n} tenants (prepared in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      // Bring every tenant to the head once, so the measured runs start from a steady state.
      await run(["fanout", "--dir", dir, "--changes", "0"]);
      // Baseline and relay alternate, ROUNDS times each, so machine noise hits both alike; medians.
      const bases: Record<string, number>[] = [];
      const ones: Record<string, number>[] = [];
      const bursts: Record<string, number>[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        bases.push(await run(["baseline", "--dir", dir, "--n", String(n)]));
        ones.push(await run(["fanout", "--dir", dir, "--changes", "1"]));
        bursts.push(await run(["fanout", "--dir", dir, "--changes", "100"]));
      }
      const med = (rows: Record<string, number>[], key: string) => rows.map((r) => r[key] as number).sort((a, b) => a - b)[Math.floor(rows.length / 2)] as number;
      const base = { ms: med(bases, "ms"), rssMb: med(bases, "rssMb") };
      const one = { ms: med(ones, "ms"), rssMb: Math.max(...ones.map((r) => r.rssMb as number)), maxFds: Math.max(...ones.map((r) => r.maxFds as number)), capacity: ones[0]?.capacity as number };
      const burst = { ms: med(bursts, "ms"), rssMb: Math.max(...bursts.map((r) => r.rssMb as number)), maxFds: Math.max(...bursts.map((r) => r.maxFds as number)), inSync: bursts.at(-1)?.inSync, tenants: bursts.at(-1)?.tenants };
      const tput = (ms: number) => (n / (ms / 1000)).toFixed(0);
      const spread = (rows: Record<string, number>[]) => `(${rows.map((r) => (r.ms as number).toFixed(0)).join(", ")})`;
      console.log(`  baseline open+upsert+close: ${base.ms.toFixed(0)} ms ${spread(bases)} (${tput(base.ms)} tenants/s), RSS ${base.rssMb.toFixed(0)} MB`);
      console.log(`  one change:      ${one.ms.toFixed(0)} ms ${spread(ones)} (${tput(one.ms)} tenants/s)   throughput ratio to baseline ${(base.ms / one.ms).toFixed(2)}x (target >= 0.8x)`);
      console.log(`  burst of 100:    ${burst.ms.toFixed(0)} ms ${spread(bursts)}   ${(burst.ms / one.ms).toFixed(2)}x one change (target <= 2x)`);
      console.log(`  in sync ${burst.inSync}/${burst.tenants}; peak RSS ${Math.max(one.rssMb, burst.rssMb).toFixed(0)} MB (target < 250); peak descriptors ${Math.max(one.maxFds, burst.maxFds)} with a pool of ${one.capacity} files`);
      if (n >= 10000) console.log(`  10,000 tenants converged in ${(one.ms / 1000).toFixed(2)} s after one change (target < 10 s)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
