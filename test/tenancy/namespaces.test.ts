import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { loadConfig } from "../../src/config/index.ts";
import { LibsqlDb, SqldAdmin } from "../../src/storage/libsql.ts";
import { closeTenancy, openTenancy, type Tenancy } from "../../src/tenancy/index.ts";
import { startSqld, type Sqld } from "../support/sqld.ts";

// Tenancy on a libSQL server: two gateways' tenancies over one real sqld, each with its own data
// directory, the control plane and every tenant namespaces of the server.

let sqld: Sqld;
const dirs: string[] = [];
const opened: Tenancy[] = [];

beforeAll(async () => {
  sqld = await startSqld();
});
afterAll(async () => {
  for (const t of opened) closeTenancy(t);
  await sqld?.dispose();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function gateway(): Promise<Tenancy> {
  const dir = mkdtempSync(join(tmpdir(), "tenantgate-ns-"));
  dirs.push(dir);
  const { config } = loadConfig({ argv: ["--dev", "--data-dir", dir, "--database-url", sqld.url, "--database-admin-url", sqld.adminUrl], env: {} });
  const t = await openTenancy(config.tenancy, pino({ level: "silent" }));
  opened.push(t);
  return t;
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > end) return v;
    await Bun.sleep(50);
  }
}

test("two gateways start on a new server at once: one control plane, one deployment identity", async () => {
  const [a, b] = await Promise.all([gateway(), gateway()]);
  expect(await a.cp.deploymentId()).toBe(await b.cp.deploymentId());
  expect(await a.cp.tenantIds()).toEqual(["control_plane"]);
  expect(a.store.engine).toBe("libsql");
  expect(a.files).toBeUndefined();
});

test("a tenant made through one gateway is served by the other; deleted, it is gone from both and kept in the trash", async () => {
  const [a, b] = [opened[0] as Tenancy, opened[1] as Tenancy];
  const stop = b.commits.watch();
  try {
    const created = await a.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    expect(created.tenant.friendly_name).toBe("Acme");
    expect(await a.registry.status("acme")).toBe("ready");
    // The other gateway sees it by its poll of the control plane's change counter.
    expect(await until(() => b.registry.status("acme"), (s) => s === "ready")).toBe("ready");
    expect(await b.registry.tenantOfOrg(created.organization_id)).toBe("acme");
    const row = await b.store.use("acme", (db) => db.get<{ id: string; friendly_name: string }>("SELECT id, friendly_name FROM tenants"));
    expect(row).toEqual({ id: "acme", friendly_name: "Acme" });
    const origin = await b.store.use("acme", (db) => db.get<{ deployment_id: string }>("SELECT deployment_id FROM tenantgate_origin"));
    expect(origin?.deployment_id).toBe(await a.cp.deploymentId());

    const op = await b.lifecycle.delete("acme");
    expect(op.state).toBe("done");
    expect(op.steps.map((s) => s.step)).toEqual(["unregistered", "trashed"]);
    expect(await until(() => a.registry.status("acme"), (s) => s === "unknown")).toBe("unknown");
    const admin = new SqldAdmin(sqld.adminUrl);
    expect(await admin.exists("acme")).toBe(false);
    expect(await admin.exists(op.input.trash_path as string)).toBe(true);
    // A use of the deleted tenant says it is missing, never that some other thing went wrong.
    await expect(a.store.use("acme", (db) => db.get("SELECT 1"))).rejects.toMatchObject({ problem: "missing" });

    // Re-created under the same id: a new namespace, the trashed one untouched.
    await a.lifecycle.create({ id: "acme", friendly_name: "Acme again" });
    expect(await b.store.use("acme", (db) => db.get<{ friendly_name: string }>("SELECT friendly_name FROM tenants"))).toEqual({ friendly_name: "Acme again" });
    // Past the retention, the sweep removes the trashed namespace.
    expect(await a.lifecycle.sweepTrash(Date.now() + 31 * 86_400_000)).toEqual([op.input.trash_path as string]);
    expect(await admin.exists(op.input.trash_path as string)).toBe(false);
  } finally {
    await stop();
  }
});

test("a create that fails after its namespace was built is undone: no row, no namespace", async () => {
  const a = opened[0] as Tenancy;
  a.lifecycle.seedWith(async () => {
    throw new Error("seed refused");
  });
  try {
    await expect(a.lifecycle.create({ id: "broken", friendly_name: "Broken" })).rejects.toThrow("seed refused");
  } finally {
    a.lifecycle.seedWith(async () => 0);
  }
  expect(await a.cp.tenant("broken")).toBeUndefined();
  expect(await new SqldAdmin(sqld.adminUrl).exists("broken")).toBe(false);
  const history = await a.journal.history("broken");
  expect(history[0]?.state).toBe("rolled_back");
});

test("an operation another host left running is taken over once its lease lapses, and only by one gateway", async () => {
  const [a, b] = [opened[0] as Tenancy, opened[1] as Tenancy];
  // A delete begun by a gateway on another host that then died: its lease ran out a moment ago.
  await a.lifecycle.create({ id: "orphaned", friendly_name: "Orphaned" });
  const org = (await a.cp.organizationOf("orphaned"))?.id;
  const stamp = "20261207t000000z";
  const trash = await a.store.trashName("orphaned", stamp);
  const dead = { host: "gateway-that-died", pid: 4242, start: "1" };
  const row = (lease: number, id: string, tenant = "orphaned") => [
    id,
    tenant,
    JSON.stringify({ organization_id: org, purge: false, trash_path: trash }),
    JSON.stringify(dead),
    lease,
    new Date().toISOString(),
  ];
  const insert = "INSERT INTO tenantgate_operations (id, tenant_id, kind, state, input, steps, owner, lease_until, started_at) VALUES (?, ?, 'delete', 'running', ?, '[]', ?, ?, ?)";
  await a.cp.sql.run(insert, row(Date.now() - 1, "op_lapsed"));
  // Both gateways rescan at once: one claims it and finishes it, the other leaves it to that one.
  const [ra, rb] = await Promise.all([a.lifecycle.recover(), b.lifecycle.recover()]);
  expect([...ra.finished, ...rb.finished]).toEqual(["op_lapsed"]);
  expect([...ra.live, ...rb.live]).toEqual(["op_lapsed"]);
  expect(await a.cp.tenant("orphaned")).toBeUndefined();
  expect((await a.journal.get("op_lapsed"))?.state).toBe("done");
  expect(await new SqldAdmin(sqld.adminUrl).exists("orphaned")).toBe(false);

  // One whose owner still renews its lease is left alone, wherever it runs.
  await a.lifecycle.create({ id: "busy", friendly_name: "Busy" });
  await a.cp.sql.run(insert, row(Date.now() + 60_000, "op_alive", "busy"));
  const again = await b.lifecycle.recover();
  expect(again.live).toContain("op_alive");
  expect(await a.cp.tenant("busy")).toBeDefined();
  await a.journal.finish("op_alive", "failed", "its owner gave up"); // as that gateway would, in the end
});

test("a tenant's namespace backed up is a checked local file, the same format as a file's: restored on the server, and into a data directory of files, it serves there", async () => {
  const a = opened[0] as Tenancy;
  await a.lifecycle.create({ id: "epsilon", friendly_name: "Epsilon" });
  await a.store.use("epsilon", (db) => db.run("INSERT INTO roles (id, tenant_id, name, description, is_system, created_at, updated_at) VALUES ('rol_own', 'epsilon', 'own', 'mine', 0, '', '')"));
  const dir = mkdtempSync(join(tmpdir(), "tenantgate-ns-backup-"));
  dirs.push(dir);
  const file = join(dir, "epsilon.backup.sqlite");
  const op = await a.lifecycle.backup("epsilon", file);
  expect(op.state).toBe("done");
  expect(op.steps.map((s) => s.step)).toEqual(["snapshot", "checked"]);
  const { Database } = await import("bun:sqlite");
  const copy = new Database(file, { readonly: true });
  expect(copy.query("SELECT id, friendly_name FROM tenants").all()).toEqual([{ id: "epsilon", friendly_name: "Epsilon" }]);
  expect(copy.query("SELECT name FROM roles WHERE id = 'rol_own'").get()).toEqual({ name: "own" });
  expect(copy.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
  copy.close();
  // Restored on the server after a loss: the namespace holds the backup's rows again, the one it
  // replaced kept in the trash.
  await a.store.use("epsilon", (db) => db.run("DELETE FROM roles WHERE id = 'rol_own'"));
  const back = await a.lifecycle.restore("epsilon", file);
  expect(back.state).toBe("done");
  expect(back.steps.map((s) => s.step)).toEqual(["staged", "trashed", "renamed"]);
  expect(await a.store.use("epsilon", (db) => db.get("SELECT name FROM roles WHERE id = 'rol_own'"))).toEqual({ name: "own" });
  const admin = new SqldAdmin(sqld.adminUrl);
  expect(await admin.exists(back.input.trashed as string)).toBe(true);
  expect(await new LibsqlDb({ url: sqld.url }, back.input.trashed as string).get("SELECT count(*) AS n FROM roles WHERE id = 'rol_own'")).toEqual({ n: 0 });
  // The control plane is every gateway's, live: its restore is the server's business, refused saying so.
  const cpFile = join(dir, "control_plane.backup.sqlite");
  await a.lifecycle.backup("control_plane", cpFile);
  await expect(a.lifecycle.restore("control_plane", cpFile)).rejects.toMatchObject({ status: 501 });

  // The same file restored into a deployment of local files (another deployment: asked for).
  const { config } = loadConfig({ argv: ["--dev", "--data-dir", join(dir, "files")], env: {} });
  const files = await openTenancy(config.tenancy, pino({ level: "silent" }));
  opened.push(files);
  const restored = await files.lifecycle.restore("epsilon", file, { fromOtherDeployment: true });
  expect(restored.state).toBe("done");
  expect(await files.registry.status("epsilon")).toBe("ready");
  expect(await files.store.use("epsilon", (db) => db.get("SELECT name FROM roles WHERE id = 'rol_own'"))).toEqual({ name: "own" });
});

test("doctor on a libSQL server: refuses a server without the control plane, checks every namespace, names one gone", async () => {
  const { checkDataDir } = await import("../../src/cli/doctor.ts");
  const dir = mkdtempSync(join(tmpdir(), "tenantgate-ns-doctor-"));
  dirs.push(dir);
  const configFor = (controlPlane: string) =>
    loadConfig({ argv: ["--dev", "--data-dir", dir, "--database-url", sqld.url, "--database-admin-url", sqld.adminUrl, "--control-plane", controlPlane], env: {} }).config;
  const said: string[] = [];
  expect(await checkDataDir(configFor("nowhere"), false, (l) => said.push(l))).toBe(1);
  expect(said.join("\n")).toContain(`no control-plane namespace "nowhere" on ${sqld.url}`);
  expect(await new SqldAdmin(sqld.adminUrl).exists("nowhere")).toBe(false); // the check made nothing

  said.length = 0;
  expect(await checkDataDir(configFor("control_plane"), true, (l) => said.push(l)), said.join("\n")).toBe(0);
  expect(said.at(-1)).toBe("no problems found");

  // A tenant's namespace removed behind the gateways' backs.
  await new SqldAdmin(sqld.adminUrl).remove("acme");
  said.length = 0;
  expect(await checkDataDir(configFor("control_plane"), false, (l) => said.push(l))).toBe(1);
  expect(said.join("\n")).toContain("tenant acme: namespace cannot be read:");
});
