// Fan-out into sqld namespaces (issue 20: "one control-plane change reaches 1,000 tenant namespaces
// at least 2x faster than a naive loop of one HTTP request per tenant"). One sqld on 127.0.0.1, a
// tenancy over it in this process (as `serve` opens it), N tenants made through the lifecycle, the
// relay brought to the head once; then, ROUNDS times, alternately:
//   baseline:    for each tenant's namespace in turn, one LibsqlDb.run INSERT of the same role row,
//                awaited one by one (clients made beforehand, as the store keeps its own);
//   ceiling:     the baseline's INSERTs with 32 in flight (the relay's overlap): what a fan-out of
//                one request per tenant can gain over the loop on this machine at most, since any
//                apply that keeps the sync's rules sends at least that request;
//   relay @ k:   one role written on the control plane, timed until relay.drain() returns, for each
//                k in --overlaps (the store's `overlap`: tenants in flight in the fan-out; 32 is the
//                shipped value); every namespace is then checked to hold the role (untimed).
// Each phase's CPU (sqld's and this process's, from /proc) per tenant shows where the time goes.
// Prints medians, the baseline's time over the relay's at 32 (target >= 2x), each overlap against
// 32, and the load average at the start and end. Tenants that the drain left behind (their apply
// failed and backs off) are reported and waited for, untimed. sqld and the temp dir are removed at the end.
//
//   bun bench/sqld-fanout.ts [--tenants 1000] [--rounds 3] [--overlaps 1,8,32,64] [--active-namespaces 0]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { LibsqlDb } from "../src/storage/libsql.ts";
import { benchArgs } from "./args.ts";
import { benchProcesses } from "./processes.ts";
import { benchSqld, createTenants, load, median, openSqldTenancy } from "./sqld.ts";

const args = benchArgs({ tenants: 1000, rounds: 3, overlaps: "1,8,32,64", "active-namespaces": 0 });
const N = args.tenants;
const OVERLAPS = args.overlaps.split(",").map(Number);
if (!OVERLAPS.includes(32)) OVERLAPS.push(32);
const { work, atCleanup, runAndCleanUp } = benchProcesses({ bench: "sqld-fanout", cwd: join(import.meta.dir, ".."), watchdogMs: 30 * 60_000 });

/** A process's CPU time so far (utime + stime, in ms; /proc counts 10 ms ticks). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function main(): Promise<void> {
  const loadStart = load();
  console.log(`sqld fan-out: ${N} tenant namespaces, ${args.rounds} rounds, overlaps ${OVERLAPS.join(", ")}; load average at start ${loadStart}`);
  const sqld = await benchSqld(atCleanup, args["active-namespaces"]);
  const { tenancy, relay, close } = await openSqldTenancy(sqld, join(work, "gw"));
  atCleanup(async () => close());
  const prepMs = await createTenants(tenancy, N);
  console.log(`  ${N} tenants made with lifecycle.create, one at a time, in ${(prepMs / 1000).toFixed(1)} s`);
  await relay.drain();

  const ids = Array.from({ length: N }, (_, i) => `t${i}`);
  const server = { url: sqld.url };
  const clients = ids.map((id) => new LibsqlDb(server, id));
  const store = tenancy.store as { overlap?: number };

  /** How many namespaces hold role `id` (32 asked at a time). */
  async function holding(id: string): Promise<number> {
    let next = 0;
    let found = 0;
    const lane = async () => {
      while (next < N) {
        const db = clients[next++] as LibsqlDb;
        if (await db.get("SELECT 1 AS x FROM roles WHERE id = ?", [id])) found++;
      }
    };
    await Promise.all(Array.from({ length: 32 }, lane));
    return found;
  }

  let change = 0;
  const stragglers: { overlap: number; round: number; missing: number; failing: number; errors: [string, number][]; convergedAfterMs: number | null }[] = [];
  const baseline: number[] = [];
  const ceiling: number[] = [];
  const relayMs = new Map<number, number[]>(OVERLAPS.map((k) => [k, []]));
  // CPU ms per tenant, summed over the rounds, for sqld and for this process: [sqld, here].
  const cpu = new Map<string, [number, number]>();
  let mark: [number, number] = [0, 0];
  const startCpu = () => (mark = [cpuMs(sqld.pid), cpuMs(process.pid)]);
  const endCpu = (phase: string) => {
    const [s, h] = cpu.get(phase) ?? [0, 0];
    cpu.set(phase, [s + cpuMs(sqld.pid) - mark[0], h + cpuMs(process.pid) - mark[1]]);
  };
  for (let r = 0; r < args.rounds; r++) {
    const row = `rol_naive_${r}`;
    const now = new Date().toISOString();
    startCpu();
    let t0 = performance.now();
    for (let i = 0; i < N; i++)
      await (clients[i] as LibsqlDb).run("INSERT INTO roles (id, tenant_id, name, description, created_at, updated_at) VALUES (?, ?, ?, 'bench', ?, ?)", [row, ids[i] as string, `naive ${r}`, now, now]);
    baseline.push(performance.now() - t0);
    endCpu("baseline");

    startCpu();
    t0 = performance.now();
    let next = 0;
    const lane = async () => {
      while (next < N) {
        const i = next++;
        await (clients[i] as LibsqlDb).run("INSERT INTO roles (id, tenant_id, name, description, created_at, updated_at) VALUES (?, ?, ?, 'bench', ?, ?)", [`${row}_c`, ids[i] as string, `ceiling ${r}`, now, now]);
      }
    };
    await Promise.all(Array.from({ length: 32 }, lane));
    ceiling.push(performance.now() - t0);
    endCpu("ceiling");

    for (const k of OVERLAPS) {
      store.overlap = k;
      const role = `rol_relay_${++change}`;
      startCpu();
      t0 = performance.now();
      await tenancy.cp.sql.run("INSERT INTO roles (id, tenant_id, name, description, created_at, updated_at) VALUES (?, 'control_plane', ?, 'bench', ?, ?)", [role, `relay ${change}`, now, now]);
      await relay.drain();
      const ms = performance.now() - t0;
      endCpu(`relay@${k}`);
      let held = await holding(role);
      if (held !== N) {
        // Tenants whose apply failed back off (sqld answers 500 now and then while it evicts and
        // loads namespaces past --max-active-namespaces): counted, then waited for, untimed.
        const summary = await relay.summary();
        const errors = new Map<string, number>();
        for (const id of ids) {
          const st = await relay.status(id);
          if (st.state !== "in_sync") errors.set(`${st.state}: ${st.last_error}`, (errors.get(`${st.state}: ${st.last_error}`) ?? 0) + 1);
        }
        const missing = N - held;
        const t1 = performance.now();
        while (held !== N && performance.now() - t1 < 120_000) {
          await Bun.sleep(500);
          await relay.drain();
          held = await holding(role);
        }
        stragglers.push({ overlap: k, round: r + 1, missing, failing: summary.failing, errors: [...errors], convergedAfterMs: held === N ? Math.round(performance.now() - t0) : null });
        if (held !== N) throw new Error(`${held} of ${N} namespaces hold ${role} 120 s after relay.drain() returned; ${JSON.stringify(stragglers.at(-1))}`);
      }
      relayMs.get(k)?.push(ms);
    }
    console.log(`  round ${r + 1}: baseline ${baseline.at(-1)?.toFixed(0)} ms; ceiling ${ceiling.at(-1)?.toFixed(0)} ms; relay ${OVERLAPS.map((k) => `@${k} ${relayMs.get(k)?.at(-1)?.toFixed(0)} ms`).join(", ")}`);
  }
  store.overlap = 32;

  const base = median(baseline);
  const at32 = median(relayMs.get(32) as number[]);
  const spread = (xs: number[]) => `(${xs.map((x) => x.toFixed(0)).join(", ")})`;
  const perTenant = (phase: string) => (cpu.get(phase) ?? [0, 0]).map((ms) => ms / (N * args.rounds));
  const cpuText = (phase: string) => {
    const [s, h] = perTenant(phase);
    return `CPU per tenant: sqld ${s?.toFixed(2)} ms, this process ${h?.toFixed(2)} ms`;
  };
  console.log(`\n  baseline, one INSERT per namespace awaited in turn: median ${base.toFixed(0)} ms ${spread(baseline)}, ${(N / (base / 1000)).toFixed(0)} tenants/s; ${cpuText("baseline")}`);
  const top = median(ceiling);
  console.log(`  ceiling, the same INSERTs 32 in flight: median ${top.toFixed(0)} ms ${spread(ceiling)}, baseline/ceiling ${(base / top).toFixed(2)}x (the most one request per tenant gains here); ${cpuText("ceiling")}`);
  for (const k of OVERLAPS) {
    const xs = relayMs.get(k) as number[];
    const m = median(xs);
    console.log(`  relay, overlap ${String(k).padStart(2)}: median ${m.toFixed(0)} ms ${spread(xs)}, ${(N / (m / 1000)).toFixed(0)} tenants/s, baseline/relay ${(base / m).toFixed(2)}x, relay@32 is ${(m / at32).toFixed(2)}x faster than this; ${cpuText(`relay@${k}`)}`);
  }
  for (const st of stragglers)
    console.log(`  round ${st.round}, overlap ${st.overlap}: relay.drain() returned with ${st.missing} namespaces without the change (${st.failing} failing: ${st.errors.map(([e, n]) => `${n}x ${e}`).join("; ")}); all held it ${((st.convergedAfterMs ?? 0) / 1000).toFixed(1)} s after the write`);
  const ratio = base / at32;
  console.log(`  one change into ${N} namespaces (overlap 32): ${ratio.toFixed(2)}x faster than the naive loop (target >= 2x): ${ratio >= 2 ? "met" : "MISSED"}`);
  const loadEnd = load();
  console.log(`  load average at end ${loadEnd}`);
  console.log(
    JSON.stringify({
      bench: "sqld-fanout",
      tenants: N,
      activeNamespaces: args["active-namespaces"] || "sqld default (100)",
      prepareMs: Math.round(prepMs),
      baselineMs: baseline.map(Math.round),
      ceilingMs: ceiling.map(Math.round),
      ratioBaselineOverCeiling: Number((base / top).toFixed(2)),
      relayMs: Object.fromEntries([...relayMs].map(([k, xs]) => [k, xs.map(Math.round)])),
      ratioBaselineOverRelay32: Number(ratio.toFixed(2)),
      stragglers,
      cpuMsPerTenant: Object.fromEntries([...cpu.keys()].map((phase) => [phase, perTenant(phase).map((x) => Number(x.toFixed(2)))])),
      loadStart,
      loadEnd,
    }),
  );
}

await runAndCleanUp(main);
