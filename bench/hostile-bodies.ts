// Hostile-body benchmark (issue 18: "No request body can cost more than a small bound of CPU and
// memory before it is refused"). One gateway process (`serve --dev`, front door on), a control-plane
// admin token (so every body is read: a weak token is refused before any byte of it), and for each
// shape REQUESTS requests one after another on one keep-alive connection:
//   baseline   PATCH /api/v2/tenants/acme {"friendly_name": "..."}: a small valid body (200)
//   the shapes PATCH with ~60 KB bodies built to be expensive: nesting (arrays, objects), width, long
//              strings, many duplicate keys, __proto__ keys, and seeded random JSON (fast-check)
// For each: the gateway's CPU per request (utime + stime from /proc), the wall time per request, the
// answers' statuses, and the gateway's resident memory after the shape; the table gives each shape's
// CPU per request against the baseline's and the RSS growth over the run. Everything listens on
// 127.0.0.1; the process and its temp dir are removed at the end.
//
//   bun bench/hostile-bodies.ts [--root <checkout>] [--requests 200] [--bytes 60000] [--seed 18]
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { benchArgs } from "./args.ts";
import { benchProcesses, cpuSeconds, freePort, HOST } from "./processes.ts";

const args = benchArgs({ requests: 200, bytes: 60_000, seed: 18, root: resolve(import.meta.dir, "..") });
const ROOT = resolve(args.root);
const BUN = process.execPath;
const { work, spawn, run, waitFor, runAndCleanUp } = benchProcesses({ bench: "hostile-bodies", cwd: ROOT, watchdogMs: 10 * 60_000 });

function rssMiB(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) / 1024;
}

const n = args.bytes;
const SHAPES: [string, () => string][] = [
  ["baseline (valid)", () => JSON.stringify({ friendly_name: "Acme" })],
  ["nested arrays", () => `{"friendly_name":"x","a":${"[".repeat(n / 2)}${"]".repeat(n / 2)}}`],
  ["nested objects", () => `{"friendly_name":"x","a":${'{"a":'.repeat(n / 6)}1${"}".repeat(n / 6)}}`],
  ["wide array", () => `{"friendly_name":"x","w":[${"0,".repeat(n / 2 - 2)}0]}`],
  ["long string", () => JSON.stringify({ friendly_name: "y".repeat(n - 20) })],
  ["duplicate keys", () => `{${'"friendly_name":"x",'.repeat(n / 21)}"friendly_name":"x"}`],
  ["__proto__ keys", () => `{"friendly_name":"x",${'"__proto__":{"p":1},'.repeat(n / 21)}"z":1}`],
];

async function main(): Promise<void> {
  const dataDir = join(work, "data");
  await run([BUN, join(ROOT, "src/main.ts"), "tenants", "create", "acme", "--dev", "--data-dir", dataDir]);
  const token = (await run([BUN, join(ROOT, "src/main.ts"), "token", "--dev", "--data-dir", dataDir])).trim();
  const port = freePort();
  const gw = spawn("gateway", [BUN, join(ROOT, "src/main.ts"), "serve", "--dev", "--port", String(port), "--data-dir", dataDir, "--log-level", "warn"]);
  await waitFor(`http://${HOST}:${port}/readyz`, "gateway");
  const url = `http://${HOST}:${port}/api/v2/tenants/acme`;
  const headers = { host: "localhost", authorization: `Bearer ${token}`, "content-type": "application/json" };

  // Seeded random JSON (fast-check's generator), one document per request, as an extra shape.
  const random = fc.sample(fc.json({ maxDepth: 64 }), { numRuns: args.requests, seed: args.seed });
  const shapes: [string, (i: number) => string][] = [...SHAPES.map(([name, make]) => [name, () => make()] as [string, (i: number) => string]), ["random JSON", (i) => random[i] as string]];

  const rows: { shape: string; bytes: number; cpuUs: number; wallUs: number; statuses: string; rss: number }[] = [];
  const rssStart = rssMiB(gw.pid);
  for (const [shape, make] of shapes) {
    const statuses = new Map<number, number>();
    let bytes = 0;
    const cpu0 = cpuSeconds(gw.pid);
    const t0 = performance.now();
    for (let i = 0; i < args.requests; i++) {
      const body = make(i);
      bytes = Math.max(bytes, body.length);
      const res = await fetch(url, { method: "PATCH", headers, body });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    const wall = performance.now() - t0;
    rows.push({
      shape,
      bytes,
      cpuUs: ((cpuSeconds(gw.pid) - cpu0) * 1e6) / args.requests,
      wallUs: (wall * 1000) / args.requests,
      statuses: [...statuses].map(([s, c]) => `${c}×${s}`).join(" "),
      rss: rssMiB(gw.pid),
    });
  }

  const base = rows[0] as (typeof rows)[number];
  console.log(`hostile bodies: ${args.requests} requests per shape, one connection; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`gateway RSS at start ${rssStart.toFixed(1)} MiB\n`);
  console.log(`${"shape".padEnd(18)} ${"bytes".padStart(7)} ${"cpu µs/req".padStart(11)} ${"× base".padStart(7)} ${"wall µs/req".padStart(12)} ${"RSS MiB".padStart(8)}  answers`);
  for (const r of rows) {
    console.log(
      `${r.shape.padEnd(18)} ${String(r.bytes).padStart(7)} ${r.cpuUs.toFixed(0).padStart(11)} ${(r.cpuUs / base.cpuUs).toFixed(2).padStart(7)} ${r.wallUs.toFixed(0).padStart(12)} ${r.rss.toFixed(1).padStart(8)}  ${r.statuses}`,
    );
  }
  const worst = rows.slice(1).reduce((a, b) => (b.cpuUs > a.cpuUs ? b : a));
  console.log(`\nworst shape: ${worst.shape}, ${(worst.cpuUs / base.cpuUs).toFixed(2)}× the baseline's CPU per request; RSS grew ${(Math.max(...rows.map((r) => r.rss)) - rssStart).toFixed(1)} MiB over the run`);
}

await runAndCleanUp(main);
