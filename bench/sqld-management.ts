// Management path on sqld against local files (issue 20). Two gateway processes (`serve --dev`),
// one whose tenants are local files and one whose tenants are namespaces of a real sqld, each with
// the tenant acme made by `tenants create`, a role synced from its control plane, a role of acme's
// own, and the same upstream (a Bun server on 127.0.0.1 that answers every request 200 and counts
// them). A load generator in this process sends REQUESTS requests per series, CONCURRENCY in flight
// over keep-alive connections, Host acme.localhost, with a token for acme's organization
// (`token --org acme`):
//   POST   /api/v2/users              forwarded (no tenant read on the request path)
//   PATCH  /api/v2/roles/<own role>   the synced-entity guard reads acme's database, then forwarded
//   DELETE /api/v2/roles/<synced>     the guard reads acme's database and refuses: 403
// The two gateways alternate, ROUNDS times, each series after a warm-up; medians of the rounds'
// req/s, p50 and p99, and sqld's against files'. Load average at the start and end. Every process
// is stopped by its PID and the temp dir removed at the end.
//
//   bun bench/sqld-management.ts [--requests 3000] [--concurrency 32] [--rounds 3] [--warmup 300]
import { Database } from "bun:sqlite";
import { join, resolve } from "node:path";
import { LibsqlDb } from "../src/storage/libsql.ts";
import { benchArgs } from "./args.ts";
import { benchProcesses, freePort, HOST } from "./processes.ts";
import { benchSqld, dbFlags, load, median, quantile } from "./sqld.ts";

const args = benchArgs({ requests: 3000, concurrency: 32, rounds: 3, warmup: 300 });
const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const MAIN = join(ROOT, "src/main.ts");
const { work, spawn, run, waitFor, atCleanup, startBunServer, runAndCleanUp } = benchProcesses({ bench: "sqld-management", cwd: ROOT, watchdogMs: 20 * 60_000 });

const SYNCED = "rol_bench_synced";
const OWN = "rol_bench_own";

interface Gateway {
  name: string;
  port: number;
  token: string;
}

interface Series {
  name: string;
  method: string;
  path: string;
  body?: string;
  status: number;
}

const SERIES: Series[] = [
  { name: "POST /api/v2/users", method: "POST", path: "/api/v2/users", body: JSON.stringify({ email: "someone@example.com", connection: "Username-Password-Authentication" }), status: 200 },
  { name: "PATCH own role (guard read)", method: "PATCH", path: `/api/v2/roles/${OWN}`, body: JSON.stringify({ description: "changed" }), status: 200 },
  { name: "DELETE synced role (403)", method: "DELETE", path: `/api/v2/roles/${SYNCED}`, status: 403 },
];

async function startGateway(name: string, upstreamPort: number, extra: string[], writeRole: (id: string, tenant: string, name: string) => Promise<void>): Promise<Gateway> {
  const dataDir = join(work, name);
  const common = ["--dev", "--data-dir", dataDir, "--log-level", "warn", ...extra];
  await run([BUN, MAIN, "tenants", "create", "acme", ...common]);
  // A role on the control plane (synced into acme) and one of acme's own, written as AuthHero would.
  await writeRole(SYNCED, "control_plane", "bench synced");
  const token = (await run([BUN, MAIN, "token", "--org", "acme", ...common])).trim();
  const port = freePort();
  spawn(name, [BUN, MAIN, "serve", ...common, "--host", HOST, "--port", String(port), "--upstream", `http://${HOST}:${upstreamPort}`]);
  await waitFor(`http://${HOST}:${port}/readyz`, name);
  return { name, port, token };
}

/** `count` requests of `s`, `concurrency` in flight: their latencies (ms) and the wall time. */
async function send(g: Gateway, s: Series, count: number, concurrency: number): Promise<{ latencies: number[]; wallMs: number }> {
  const url = `http://${HOST}:${g.port}${s.path}`;
  const headers: Record<string, string> = { host: "acme.localhost", authorization: `Bearer ${g.token}` };
  if (s.body) headers["content-type"] = "application/json";
  const latencies: number[] = [];
  let sent = 0;
  const lane = async () => {
    while (sent < count) {
      sent++;
      const t0 = performance.now();
      const res = await fetch(url, { method: s.method, headers, body: s.body });
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      if (res.status !== s.status) throw new Error(`${g.name} ${s.method} ${s.path}: ${res.status}, expected ${s.status}`);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { latencies, wallMs: performance.now() - t0 };
}

async function main(): Promise<void> {
  const loadStart = load();
  console.log(`management path, files vs sqld: ${args.requests} requests per series, ${args.concurrency} in flight, ${args.rounds} rounds; load average at start ${loadStart}`);
  const upstreamPort = await startBunServer(
    "upstream",
    (port) => `let n = 0;
Bun.serve({ hostname: ${JSON.stringify(HOST)}, port: ${port}, async fetch(request) {
  await request.arrayBuffer();
  n++;
  return Response.json({ ok: true, n });
} });`,
  );
  const sqld = await benchSqld(atCleanup);

  const now = new Date().toISOString();
  const roleSql = "INSERT INTO roles (id, tenant_id, name, description, created_at, updated_at) VALUES (?, ?, ?, 'bench', ?, ?)";
  const files = await startGateway("files", upstreamPort, [], async (id, tenant, name) => {
    const cp = new Database(join(work, "files", "tenants", "control_plane.sqlite"));
    cp.exec("PRAGMA busy_timeout = 5000");
    cp.query(roleSql).run(id, tenant, name, now, now);
    cp.close();
    const acme = new Database(join(work, "files", "tenants", "acme.sqlite"));
    acme.exec("PRAGMA busy_timeout = 5000");
    acme.query(roleSql).run(OWN, "acme", "bench own", now, now);
    acme.close();
  });
  const ns = await startGateway("sqld", upstreamPort, dbFlags(sqld), async (id, tenant, name) => {
    await new LibsqlDb({ url: sqld.url }, "control_plane").run(roleSql, [id, tenant, name, now, now]);
    await new LibsqlDb({ url: sqld.url }, "acme").run(roleSql, [OWN, "acme", "bench own", now, now]);
  });
  const gateways = [files, ns];

  // Until each gateway's relay has copied the synced role into acme: its DELETE is then refused.
  for (const g of gateways) {
    const until = Date.now() + 20_000;
    for (;;) {
      const res = await fetch(`http://${HOST}:${g.port}/api/v2/roles/${SYNCED}`, { method: "DELETE", headers: { host: "acme.localhost", authorization: `Bearer ${g.token}` } });
      await res.arrayBuffer();
      if (res.status === 403) break;
      if (Date.now() > until) throw new Error(`${g.name}: the synced role never reached acme (DELETE answered ${res.status})`);
      await Bun.sleep(100);
    }
  }

  type Row = { rps: number; p50: number; p99: number };
  const results = new Map<string, Row[]>();
  for (let r = 0; r < args.rounds; r++) {
    for (const s of SERIES) {
      // Alternate which gateway goes first, so a trend in the machine's load hits both alike.
      for (const g of r % 2 === 0 ? gateways : [...gateways].reverse()) {
        await send(g, s, args.warmup, args.concurrency);
        const { latencies, wallMs } = await send(g, s, args.requests, args.concurrency);
        const key = `${s.name}|${g.name}`;
        const rows = results.get(key) ?? [];
        rows.push({ rps: args.requests / (wallMs / 1000), p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) });
        results.set(key, rows);
      }
    }
  }

  const summary: Record<string, unknown>[] = [];
  console.log(`\n${"series".padEnd(30)} ${"store".padEnd(6)} ${"req/s".padStart(7)} ${"p50 ms".padStart(7)} ${"p99 ms".padStart(7)}   rounds' req/s`);
  for (const s of SERIES) {
    const med = (g: Gateway) => {
      const rows = results.get(`${s.name}|${g.name}`) as Row[];
      return { rps: median(rows.map((x) => x.rps)), p50: median(rows.map((x) => x.p50)), p99: median(rows.map((x) => x.p99)), rounds: rows.map((x) => Math.round(x.rps)) };
    };
    const f = med(files);
    const n = med(ns);
    for (const [g, m] of [[files, f], [ns, n]] as const)
      console.log(`${s.name.padEnd(30)} ${g.name.padEnd(6)} ${m.rps.toFixed(0).padStart(7)} ${m.p50.toFixed(2).padStart(7)} ${m.p99.toFixed(2).padStart(7)}   ${m.rounds.join(", ")}`);
    console.log(`${"".padEnd(30)} sqld/files: req/s ${(n.rps / f.rps).toFixed(2)}x, p50 ${(n.p50 / f.p50).toFixed(2)}x, p99 ${(n.p99 / f.p99).toFixed(2)}x`);
    summary.push({ series: s.name, files: f, sqld: n, rpsRatio: Number((n.rps / f.rps).toFixed(2)), p99Ratio: Number((n.p99 / f.p99).toFixed(2)) });
  }
  const loadEnd = load();
  console.log(`load average at end ${loadEnd}`);
  console.log(JSON.stringify({ bench: "sqld-management", requests: args.requests, concurrency: args.concurrency, rounds: args.rounds, summary, loadStart, loadEnd }));
}

await runAndCleanUp(main);
