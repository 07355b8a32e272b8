// Provisioning benchmark (issue 2). Measures in one run:
//   1. baseline: create a SQLite file and apply the same schema (no journal, no control plane, no rename)
//   2. tenantgate: TenantLifecycle.create for the same number of tenants, seeded from the outbox
//      relay with what the control plane syncs (5 resource servers, 10 roles, 3 connections)
// and prints medians and ratios; then, with N tenant files present, how fast a `serve` process is
// ready and how much memory it holds.
//
//   bun bench/provision.ts [--tenants 1000] [--ready-tenants 10000]
import { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchArgs } from "./args.ts";
import { readSchemaTemplate } from "../src/storage/clone.ts";
import { closeTenancy } from "../src/tenancy/index.ts";
import { openDataDir, seedControlPlane } from "./tenant-files.ts";

const { tenants: TENANTS, "ready-tenants": READY_TENANTS } = benchArgs({ tenants: 1000, "ready-tenants": 10000 });

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};
const ms = (x: number) => `${x.toFixed(3)} ms`;

// --- 1 + 2: per-tenant provisioning against the baseline --------------------------------------
const work = mkdtempSync(join(tmpdir(), "bench-provision-"));
const { tenancy } = await openDataDir(join(work, "gw"));
seedControlPlane(tenancy.cp.file!.db);
const template = await readSchemaTemplate(tenancy.cp.sql);
const baseDir = join(work, "baseline");
mkdirSync(baseDir);

const baseline: number[] = [];
const provision: number[] = [];
// Interleave the two so that machine noise hits both alike.
for (let i = 0; i < TENANTS; i++) {
  let t0 = performance.now();
  const db = new Database(join(baseDir, `t${i}.sqlite`), { create: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.transaction(() => {
    for (const stmt of template.ddl) db.exec(stmt);
  })();
  db.close();
  baseline.push(performance.now() - t0);

  t0 = performance.now();
  await tenancy.lifecycle.create({ id: `tenant-${i}`, friendly_name: `Tenant ${i}` });
  provision.push(performance.now() - t0);
}
closeTenancy(tenancy);

const first = median(provision.slice(0, 100));
const last = median(provision.slice(-100));
console.log(`provision ${TENANTS} tenants`);
console.log(`  baseline (create file + schema): median ${ms(median(baseline))}`);
console.log(`  tenantgate lifecycle.create:     median ${ms(median(provision))}   ratio ${(median(provision) / median(baseline)).toFixed(2)}x  (target <= 3x)`);
console.log(`  first 100 median ${ms(first)}, last 100 median ${ms(last)}   ratio ${(last / first).toFixed(2)}x  (target <= 1.5x)`);

// --- 3: readiness with many tenant files present ---------------------------------------------
const big = join(work, "big");
{
  const { tenancy: t } = await openDataDir(big);
  seedControlPlane(t.cp.file!.db);
  const t0 = performance.now();
  for (let i = 0; i < READY_TENANTS; i++) await t.lifecycle.create({ id: `t${i}`, friendly_name: `T${i}` });
  console.log(`\nprepared ${READY_TENANTS} tenants in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  closeTenancy(t);
}

async function readiness(dataDir: string, runs = 3) {
  const results: { readyMs: number; rssMb: number; rssSettledMb: number }[] = [];
  for (let r = 0; r < runs; r++) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const t0 = performance.now();
    const proc = Bun.spawn([process.execPath, "src/main.ts", "serve", "--dev", "--data-dir", dataDir, "--port", String(port), "--log-level", "warn"], {
      cwd: join(import.meta.dir, ".."),
      stdout: "ignore",
      stderr: "inherit",
    });
    let readyMs = Number.NaN;
    // A serve over 10,000 files checks every cursor before it is ready: give it a minute, not 2 s.
    for (const until = performance.now() + 60_000; performance.now() < until && proc.exitCode === null; ) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        if (res.ok) {
          readyMs = performance.now() - t0;
          break;
        }
      } catch {
        // not listening yet
      }
      await Bun.sleep(5);
    }
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"))?.[1]) / 1024;
    const rssMb = rss();
    await Bun.sleep(2000); // the watcher's initial scan and first metrics settle
    await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    const rssSettledMb = rss();
    proc.kill("SIGTERM");
    await proc.exited;
    results.push({ readyMs, rssMb, rssSettledMb });
  }
  return results;
}

const empty = join(work, "empty");
(await openDataDir(empty)).tenancy.cp.close();
const base = await readiness(empty);
const full = await readiness(big);
const med = (xs: number[]) => median(xs);
console.log(`serve readiness (median of ${full.length} starts)`);
console.log(`  empty data dir:        ready ${ms(med(base.map((r) => r.readyMs)))}, RSS ${med(base.map((r) => r.rssMb)).toFixed(0)} MB at ready, ${med(base.map((r) => r.rssSettledMb)).toFixed(0)} MB after 2 s + /metrics`);
console.log(`  ${READY_TENANTS} tenant files:   ready ${ms(med(full.map((r) => r.readyMs)))}, RSS ${med(full.map((r) => r.rssMb)).toFixed(0)} MB at ready, ${med(full.map((r) => r.rssSettledMb)).toFixed(0)} MB after 2 s + /metrics   (targets: < 2000 ms, < 150 MB)`);
console.log(`  ratio to empty: ready ${(med(full.map((r) => r.readyMs)) / med(base.map((r) => r.readyMs))).toFixed(2)}x, RSS ${(med(full.map((r) => r.rssSettledMb)) / med(base.map((r) => r.rssSettledMb))).toFixed(2)}x`);

rmSync(work, { recursive: true, force: true });
