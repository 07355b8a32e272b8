// A data directory holding N tenants as `tenantgate` itself makes them, in seconds instead of the
// ~20 ms per tenant of the lifecycle (10,000 of them took bench/fanout.ts ~400 s to make).
//
// The first two tenants are made by `lifecycle.create`, seeded by the outbox relay. Every other one
// is the first one's file with its id rewritten byte for byte, plus the first one's control-plane
// rows (tenant row, organization, journal operation, sync-state mirror) with its id, organization id
// and operation id replaced, inserted in one transaction. What makes the byte rewrite sound:
//   - every tenant id has the same length (t0000 … t9999), so no record, header or page changes size;
//   - within one file every row holds the same tenant id, so replacing it by another keeps every
//     index in order;
//   - SQLite keeps no checksums, and the template is checkpointed first (no WAL beside it).
// Both are checked before the copies are made: a copy made for the second tenant must hold, row for
// row, what the lifecycle wrote to its file (timestamps and the sync cursor aside) and pass
// `PRAGMA integrity_check`, and the lifecycle must have written control-plane rows naming the second
// tenant in the same tables, as many, as for the first.
import { Database } from "bun:sqlite";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { loadConfig } from "../src/config/index.ts";
import { openRelay } from "../src/sync/index.ts";
import { closeTenancy, openTenancy } from "../src/tenancy/index.ts";
import { newOperationId, newOrganizationId } from "../src/tenancy/ids.ts";

/** A data dir as `serve` and the CLI open it: new tenants are seeded from the outbox relay's snapshot. */
export async function openDataDir(dataDir: string) {
  const { config } = loadConfig({ argv: ["--dev", "--data-dir", dataDir, "--log-level", "silent"], env: {} });
  const log = pino({ level: "silent" });
  const tenancy = await openTenancy(config, log);
  const relay = await openRelay(tenancy, config, log);
  return { config, tenancy, relay };
}

/** What new tenants copy: 5 resource servers, 10 roles with 4 permissions each, 3 connections. */
export function seedControlPlane(cp: Database): void {
  const now = new Date().toISOString();
  cp.transaction(() => {
    for (let i = 0; i < 5; i++)
      cp.query("INSERT INTO resource_servers (id, tenant_id, identifier, name, scopes, created_at, updated_at) VALUES (?, 'control_plane', ?, ?, '[]', ?, ?)").run(`api_${i}`, `https://api${i}.example.com/`, `API ${i}`, now, now);
    for (let i = 0; i < 10; i++) {
      cp.query("INSERT INTO roles (id, tenant_id, name, created_at, updated_at) VALUES (?, 'control_plane', ?, ?, ?)").run(`rol_${i}`, `role ${i}`, now, now);
      for (let p = 0; p < 4; p++)
        cp.query("INSERT INTO role_permissions (tenant_id, role_id, resource_server_identifier, permission_name, created_at) VALUES ('control_plane', ?, ?, ?, ?)").run(`rol_${i}`, `https://api${p}.example.com/`, `read:${p}`, now);
    }
    for (let i = 0; i < 3; i++)
      cp.query("INSERT INTO connections (id, tenant_id, name, strategy, options, created_at, updated_at) VALUES (?, 'control_plane', ?, 'oidc', '{\"client_id\":\"x\",\"client_secret\":\"s\"}', ?, ?)").run(`con_${i}`, `conn ${i}`, now, now);
  })();
}

/** `n` tenant ids of one length: t0000 … t9999 for 10,000. */
export function tenantIds(n: number): string[] {
  const width = Math.max(4, String(n - 1).length);
  return Array.from({ length: n }, (_, i) => `t${String(i).padStart(width, "0")}`);
}

/**
 * Every table's rows, in a stable order, without the values that differ between two creates anyway.
 * Read-write, so that closing it removes the -wal and -shm a read-only connection would leave behind.
 */
function contents(path: string): string {
  const db = new Database(path);
  try {
    const tables = db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
    return JSON.stringify(
      tables.map(({ name }) => {
        const rows = db.query(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[];
        const kept = rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !k.endsWith("_at") && k !== "cursor")));
        return [name, kept.map((r) => JSON.stringify(r)).sort()];
      }),
    );
  } finally {
    db.close(false);
  }
}

/** Control-plane rows that name `id` (anywhere in them, JSON columns too), by table; the outbox's are its triggers'. */
function rowsNaming(cp: Database, id: string): Map<string, Record<string, unknown>[]> {
  const out = new Map<string, Record<string, unknown>[]>();
  const tables = cp.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'tenantgate_outbox' ORDER BY name").all() as { name: string }[];
  for (const { name } of tables) {
    const rows = (cp.query(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[]).filter((r) => JSON.stringify(r).includes(id));
    if (rows.length > 0) out.set(name, rows);
  }
  return out;
}

export interface Prepared {
  ids: string[];
  /** The control plane's id: its file is in the tenants folder too. */
  controlPlane: string;
  ms: number;
  /** Control-plane rows each tenant has, by table. */
  rowsPerTenant: Record<string, number>;
  fileBytes: number;
}

/** Makes `n` tenants (n >= 2) in `dataDir`, which must not hold a deployment yet; see the top of this file. */
export async function prepareTenants(dataDir: string, n: number): Promise<Prepared> {
  if (n < 2) throw new Error("prepareTenants: at least 2 tenants (the template and the one it is checked against)");
  const t0 = performance.now();
  const ids = tenantIds(n);
  const [template, second] = ids as [string, string];
  const dir = join(dataDir, "tenants");
  const { tenancy } = await openDataDir(dataDir);
  seedControlPlane(tenancy.cp.file!.db);
  for (const id of [template, second]) await tenancy.lifecycle.create({ id, friendly_name: `Tenant ${id}` });
  closeTenancy(tenancy);

  // The template whole in its main file; its last connection closed, so no WAL is left to copy.
  const templatePath = join(dir, `${template}.sqlite`);
  const tdb = new Database(templatePath);
  tdb.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const cursor = (tdb.query("SELECT cursor FROM tenantgate_sync WHERE id = 1").get() as { cursor: number }).cursor;
  tdb.close(false);
  // A cursor of 0 means "never synced": the relay would make a full copy in every file at start.
  if (!(cursor > 0)) throw new Error(`the template's sync cursor is ${cursor}: the control plane's synced entities were not seeded`);
  const bytes = readFileSync(templatePath);
  const needle = Buffer.from(template);
  const offsets: number[] = [];
  for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1)) offsets.push(at);
  const copyFor = (id: string): Buffer => {
    for (const at of offsets) bytes.write(id, at, "latin1");
    return bytes;
  };

  // A copy for the second tenant is what the lifecycle made for it.
  const check = join(dataDir, "copy-check.sqlite");
  writeFileSync(check, copyFor(second));
  const same = contents(check) === contents(join(dir, `${second}.sqlite`));
  const idb = new Database(check);
  const integrity = (idb.query("PRAGMA integrity_check").all() as { integrity_check: string }[]).map((r) => r.integrity_check).join("; ");
  idb.close(false);
  rmSync(check);
  if (integrity !== "ok" || !same) throw new Error(`a copy of ${template}'s file rewritten for ${second} is not what lifecycle.create made (integrity_check: ${integrity}; same rows: ${same})`);

  for (const id of ids.slice(2)) writeFileSync(join(dir, `${id}.sqlite`), copyFor(id));

  const cp = new Database(join(dir, `${tenancy.cp.id}.sqlite`));
  cp.exec("PRAGMA busy_timeout = 5000");
  const rows = rowsNaming(cp, template);
  const shape = (m: Map<string, unknown[]>) => JSON.stringify([...m].map(([t, r]) => [t, r.length]));
  if (shape(rows) !== shape(rowsNaming(cp, second))) throw new Error(`the lifecycle wrote different control-plane rows for ${template} and ${second}: ${shape(rows)} vs ${shape(rowsNaming(cp, second))}`);
  // Ids that must be unique per tenant; every other value naming the template names the new tenant.
  const orgId = (cp.query("SELECT id FROM organizations WHERE name = ?").get(template) as { id: string }).id;
  const opId = (cp.query("SELECT id FROM tenantgate_operations WHERE tenant_id = ?").get(template) as { id: string }).id;
  const inserts = [...rows].map(([table, list]) => {
    const columns = Object.keys(list[0] as object);
    const insert = cp.prepare(`INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`);
    return { list, columns, insert };
  });
  cp.transaction(() => {
    for (const id of ids.slice(2)) {
      const [org, op] = [newOrganizationId(), newOperationId()];
      const swap = (v: unknown) => (typeof v === "string" ? v.replaceAll(template, id).replaceAll(orgId, org).replaceAll(opId, op) : v);
      for (const { list, columns, insert } of inserts) for (const row of list) insert.run(...(columns.map((c) => swap(row[c])) as never[]));
    }
  })();
  cp.close(false);
  return { ids, controlPlane: tenancy.cp.id, ms: performance.now() - t0, rowsPerTenant: Object.fromEntries([...rows].map(([t, r]) => [t, r.length])), fileBytes: bytes.length };
}
