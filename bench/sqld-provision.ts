// Provisioning one tenant on sqld (issue 20). One sqld on 127.0.0.1 and a tenancy over it in this
// process (as `serve` opens it), its control plane holding what new tenants copy (5 resource
// servers, 10 roles, 3 connections). Interleaved, COUNT times each:
//   baseline:  SqldAdmin.fork of a template namespace (a tenant made beforehand) into a new one:
//              the least a namespace-per-tenant create can cost;
//   create:    lifecycle.create of a new tenant (journal, namespace, schema, tenant row, seed from
//              the relay, registration), what POST /api/v2/tenants runs;
//   files:     lifecycle.create over local files in this process, for reference.
// Prints medians, create over fork, and the HTTP requests one create sends to sqld (by kind), which
// is where its time goes. Load average at the start and end; sqld and the temp dir are removed.
//
//   bun bench/sqld-provision.ts [--count 30]
import { join } from "node:path";
import pino from "pino";
import { loadConfig } from "../src/config/index.ts";
import { SqldAdmin } from "../src/storage/libsql.ts";
import type { SqlDb } from "../src/storage/sql.ts";
import { openRelay } from "../src/sync/index.ts";
import { closeTenancy, openTenancy } from "../src/tenancy/index.ts";
import { benchArgs } from "./args.ts";
import { benchProcesses } from "./processes.ts";
import { benchSqld, load, median, openSqldTenancy } from "./sqld.ts";

const args = benchArgs({ count: 30 });
const { work, atCleanup, runAndCleanUp } = benchProcesses({ bench: "sqld-provision", cwd: join(import.meta.dir, ".."), watchdogMs: 15 * 60_000 });

/** What new tenants copy: 5 resource servers, 10 roles with 4 permissions each, 3 connections. */
async function seedControlPlane(cp: SqlDb): Promise<void> {
  const now = new Date().toISOString();
  const statements = [];
  for (let i = 0; i < 5; i++)
    statements.push({ sql: "INSERT INTO resource_servers (id, tenant_id, identifier, name, scopes, created_at, updated_at) VALUES (?, 'control_plane', ?, ?, '[]', ?, ?)", args: [`api_${i}`, `https://api${i}.example.com/`, `API ${i}`, now, now] });
  for (let i = 0; i < 10; i++) {
    statements.push({ sql: "INSERT INTO roles (id, tenant_id, name, created_at, updated_at) VALUES (?, 'control_plane', ?, ?, ?)", args: [`rol_${i}`, `role ${i}`, now, now] });
    for (let p = 0; p < 4; p++)
      statements.push({ sql: "INSERT INTO role_permissions (tenant_id, role_id, resource_server_identifier, permission_name, created_at) VALUES ('control_plane', ?, ?, ?, ?)", args: [`rol_${i}`, `https://api${p}.example.com/`, `read:${p}`, now] });
  }
  for (let i = 0; i < 3; i++)
    statements.push({ sql: "INSERT INTO connections (id, tenant_id, name, strategy, options, created_at, updated_at) VALUES (?, 'control_plane', ?, 'oidc', '{\"client_id\":\"x\",\"client_secret\":\"s\"}', ?, ?)", args: [`con_${i}`, `conn ${i}`, now, now] });
  await cp.batch(statements);
}

/** Counts the HTTP requests this process sends while `fn` runs, by what they carry. */
async function counted<T>(fn: () => Promise<T>): Promise<{ result: T; requests: Map<string, number> }> {
  const original = globalThis.fetch;
  const requests = new Map<string, number>();
  globalThis.fetch = ((input: Request | string | URL, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    const kind = url.includes("/v1/namespaces/") ? `admin ${url.replace(/.*\/v1\/namespaces\/[^/]+\/?/, "").replace(/\/.*/, "") || "(namespace)"}` : `sql ${/control_plane\.db/.test(new Headers(init?.headers).get("host") ?? "") ? "control plane" : "tenant"}`;
    requests.set(kind, (requests.get(kind) ?? 0) + 1);
    return original(input as Request, init);
  }) as typeof fetch;
  try {
    return { result: await fn(), requests };
  } finally {
    globalThis.fetch = original;
  }
}

async function main(): Promise<void> {
  const loadStart = load();
  console.log(`provisioning on sqld: ${args.count} of each, interleaved; load average at start ${loadStart}`);
  const sqld = await benchSqld(atCleanup);
  const { tenancy, close } = await openSqldTenancy(sqld, join(work, "ns"));
  atCleanup(async () => close());
  await seedControlPlane(tenancy.cp.sql);
  const admin = new SqldAdmin(sqld.adminUrl);
  await tenancy.lifecycle.create({ id: "template", friendly_name: "Template" });

  const { config } = loadConfig({ argv: ["--dev", "--data-dir", join(work, "files"), "--log-level", "silent"], env: {} });
  const log = pino({ level: "silent" });
  const files = await openTenancy(config, log);
  atCleanup(async () => closeTenancy(files));
  await openRelay(files, config, log);
  await seedControlPlane(files.cp.sql);

  // One create counted alone, before the timed ones: where its requests go.
  const { requests } = await counted(() => tenancy.lifecycle.create({ id: "counted", friendly_name: "Counted" }));
  const total = [...requests.values()].reduce((a, b) => a + b, 0);

  const fork: number[] = [];
  const create: number[] = [];
  const local: number[] = [];
  for (let i = 0; i < args.count; i++) {
    let t0 = performance.now();
    await admin.fork("template", `fork${i}`);
    fork.push(performance.now() - t0);
    t0 = performance.now();
    await tenancy.lifecycle.create({ id: `tenant${i}`, friendly_name: `Tenant ${i}` });
    create.push(performance.now() - t0);
    t0 = performance.now();
    await files.lifecycle.create({ id: `tenant${i}`, friendly_name: `Tenant ${i}` });
    local.push(performance.now() - t0);
  }
  // The tenant really is in place: its namespace answers with its own tenant row.
  const own = await tenancy.store.use("tenant0", (db) => db.get<{ id: string }>("SELECT id FROM tenants"));
  if (own?.id !== "tenant0") throw new Error(`tenant0's namespace holds ${JSON.stringify(own)}`);

  const f = median(fork);
  const c = median(create);
  const l = median(local);
  const spread = (xs: number[]) => `min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}`;
  console.log(`  baseline SqldAdmin.fork of a template namespace: median ${f.toFixed(1)} ms (${spread(fork)})`);
  console.log(`  lifecycle.create on sqld:                         median ${c.toFixed(1)} ms (${spread(create)}), ${(c / f).toFixed(2)}x the fork`);
  console.log(`  lifecycle.create on local files (reference):     median ${l.toFixed(1)} ms (${spread(local)}); sqld/files ${(c / l).toFixed(2)}x`);
  console.log(`  one create sent ${total} HTTP requests: ${[...requests].map(([k, n]) => `${k} ${n}`).join(", ")}`);
  const loadEnd = load();
  console.log(`  load average at end ${loadEnd}`);
  console.log(
    JSON.stringify({
      bench: "sqld-provision",
      count: args.count,
      forkMedianMs: Number(f.toFixed(1)),
      createMedianMs: Number(c.toFixed(1)),
      filesCreateMedianMs: Number(l.toFixed(1)),
      createOverFork: Number((c / f).toFixed(2)),
      requestsPerCreate: Object.fromEntries(requests),
      loadStart,
      loadEnd,
    }),
  );
}

await runAndCleanUp(main);
