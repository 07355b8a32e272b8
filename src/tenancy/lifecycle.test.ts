// The tenant lifecycle in-process, over real files in a temp data dir: schema clone, control-plane
// files AuthHero made, schema mismatches, trash sweep, adoption and concurrent operations.
import { Database } from "bun:sqlite";
import { refusalOf } from "../../test/support/refusal.ts";
import { copyTenantFileAs } from "../../test/support/tenant-file.ts";
import { afterEach, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { loadConfig } from "../config/index.ts";
import { BASELINE_SQL } from "../storage/baseline.ts";
import { openFixture } from "../../test/sync/fixture.ts";
import { closeTenancy, openTenancy, type Tenancy } from "./index.ts";
import { TenantLifecycle } from "./lifecycle.ts";

const log = pino({ level: "silent" });
const dirs: string[] = [];
const open: Tenancy[] = [];

afterEach(() => {
  for (const t of open.splice(0)) closeTenancy(t);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tenantgate-lifecycle-"));
  dirs.push(d);
  return d;
}

async function tenancy(dir: string, extra: string[] = []): Promise<Tenancy> {
  const { config } = loadConfig({ argv: ["--dev", "--data-dir", dir, ...extra], env: {} });
  const t = await openTenancy(config, log);
  open.push(t);
  return t;
}

const cpFile = (dir: string) => join(dir, "tenants", "control_plane.sqlite");

interface SchemaObject {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

/** Every table, index, view and trigger except SQLite's bookkeeping table of AUTOINCREMENT counters. */
function schemaOf(db: Database): SchemaObject[] {
  return db
    .query("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT IN ('sqlite_sequence') ORDER BY type, name")
    .all() as SchemaObject[];
}

const withoutTenantgate = (objs: SchemaObject[]) => objs.filter((o) => !o.tbl_name.startsWith("tenantgate_"));

function readOnly<T>(path: string, fn: (db: Database) => T): T {
  const db = new Database(path, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close(false);
  }
}

async function expectHttpError(fn: () => unknown, status: number, message?: RegExp): Promise<void> {
  const refusal = await refusalOf(fn);
  expect(refusal.status).toBe(status);
  if (message) expect(refusal.message).toMatch(message);
}

describe("a new tenant file", () => {
  test("is a schema clone of the control plane with its own tenants row, WAL mode and AuthHero's migration rows", async () => {
    const dir = dataDir();
    const t = await tenancy(dir);
    t.cp.file!.db.query("INSERT INTO kysely_migration (name, timestamp) VALUES (?, ?)").run("2024_01_01T00_00_00_fake", "2024-01-01T00:00:00.000Z");
    // Control-plane data that must not travel: another organization and a membership.
    t.cp.file!.db.query("INSERT INTO organizations (id, tenant_id, name, created_at, updated_at) VALUES ('org_other', 'control_plane', 'other-org', 'x', 'x')").run();

    const created = await t.lifecycle.create({ id: "acme", friendly_name: "Acme Inc", support_email: "help@acme.test" });
    expect(created.tenant.id).toBe("acme");
    expect(created.organization_id).toMatch(/^org_[A-Za-z0-9]{17}$/);

    const file = join(dir, "tenants", "acme.sqlite");
    const deploymentId = await t.cp.deploymentId();
    const cpSchema = withoutTenantgate(schemaOf(t.cp.file!.db));
    expect(cpSchema.some((o) => o.name === "organizations")).toBe(true);
    readOnly(file, (db) => {
      expect(withoutTenantgate(schemaOf(db))).toEqual(cpSchema);
      // Of tenantgate's objects only the file's mark: this deployment's tenant acme.
      expect(schemaOf(db).filter((o) => o.name.startsWith("tenantgate_") || o.tbl_name.startsWith("tenantgate_")).map((o) => o.name)).toEqual(["tenantgate_origin"]);
      expect(db.query("SELECT deployment_id, tenant_id FROM tenantgate_origin").all()).toEqual([{ deployment_id: deploymentId, tenant_id: "acme" }]);
      expect(db.query("SELECT name, timestamp FROM kysely_migration").all()).toEqual(
        t.cp.file!.db.query("SELECT name, timestamp FROM kysely_migration").all() as never[],
      );
      expect(db.query("SELECT name FROM kysely_migration").all()).toContainEqual({ name: "2024_01_01T00_00_00_fake" });
      const rows = db.query("SELECT id, friendly_name, support_email FROM tenants").all();
      expect(rows).toEqual([{ id: "acme", friendly_name: "Acme Inc", support_email: "help@acme.test" }]);
      expect(db.query("SELECT count(*) AS n FROM organizations").get()).toEqual({ n: 0 });
      expect(db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    });
    // The control plane lists it, with an organization named after it.
    expect((await t.cp.tenant("acme"))?.friendly_name).toBe("Acme Inc");
    expect((await t.cp.organizationOf("acme"))?.id).toBe(created.organization_id);
    expect(await t.registry.status("acme")).toBe("ready");
    expect(readdirSync(join(dir, "tenants", ".tmp"))).toEqual([]);
  });

  test("follows the control plane's schema and migration rows as they change between creates", async () => {
    const dir = dataDir();
    const t = await tenancy(dir);
    await t.lifecycle.create({ id: "first", friendly_name: "First" });
    // AuthHero migrates: one migration changes the schema, a later one only moves data.
    t.cp.file!.db.exec("CREATE TABLE later_table (id TEXT PRIMARY KEY, v TEXT); CREATE INDEX later_table_v ON later_table (v)");
    t.cp.file!.db.query("INSERT INTO kysely_migration (name, timestamp) VALUES ('m1_schema', 't1')").run();
    await t.lifecycle.create({ id: "second", friendly_name: "Second" });
    t.cp.file!.db.query("INSERT INTO kysely_migration (name, timestamp) VALUES ('m2_data_only', 't2')").run();
    await t.lifecycle.create({ id: "third", friendly_name: "Third" });

    const cpSchema = withoutTenantgate(schemaOf(t.cp.file!.db));
    readOnly(join(dir, "tenants", "second.sqlite"), (db) => {
      expect(withoutTenantgate(schemaOf(db))).toEqual(cpSchema);
      expect(db.query("SELECT name FROM kysely_migration").all()).toContainEqual({ name: "m1_schema" });
    });
    readOnly(join(dir, "tenants", "third.sqlite"), (db) => {
      expect(withoutTenantgate(schemaOf(db))).toEqual(cpSchema);
      expect((db.query("SELECT name FROM kysely_migration ORDER BY name").all() as { name: string }[]).map((r) => r.name)).toEqual(["m1_schema", "m2_data_only"]);
    });
  });

  test("a failed build leaves no half tenant: no row, no organization, no file, rolled back in the journal", async () => {
    const dir = dataDir();
    const t = await tenancy(dir);
    const failing = new TenantLifecycle({
      cp: t.cp,
      registry: t.registry,
      journal: t.journal,
      store: t.store,
      files: t.files,
      stagingDir: t.files!.tmpDir,
      reserved: new Set(),
      trashRetentionMs: 1000,
      universalLoginVersion: "1",
      log,
    });
    failing.seedWith(() => {
      throw new Error("seed exploded");
    });
    await expect(failing.create({ id: "acme", friendly_name: "Acme" })).rejects.toThrow("seed exploded");
    expect(await t.cp.tenant("acme")).toBeUndefined();
    expect(await t.cp.organizationOf("acme")).toBeUndefined();
    expect(existsSync(join(dir, "tenants", "acme.sqlite"))).toBe(false);
    expect(readdirSync(join(dir, "tenants", ".tmp"))).toEqual([]);
    expect((await t.journal.history("acme")).map((o) => [o.kind, o.state])).toEqual([["create", "rolled_back"]]);
    expect(await t.registry.status("acme")).toBe("unknown");
    // The id is free again.
    await t.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    expect(await t.registry.status("acme")).toBe("ready");
  });
});

describe("a control-plane file that AuthHero created", () => {
  function authHeroFile(dir: string, sql: string): void {
    mkdirSync(join(dir, "tenants"), { recursive: true });
    const db = new Database(cpFile(dir), { create: true });
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(sql);
    db.close(false);
  }

  test("gets only tenantgate_* objects added, and its extra tables and columns reach new tenant files", async () => {
    const dir = dataDir();
    const sql = BASELINE_SQL.replace("friendly_name TEXT,", "friendly_name TEXT,\n  custom_setting TEXT DEFAULT 'house',") +
      `\nCREATE TABLE authhero_extra (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT NOT NULL, value TEXT);
       CREATE INDEX authhero_extra_tenant ON authhero_extra (tenant_id);
       INSERT INTO kysely_migration (name, timestamp) VALUES ('2025_authhero_m1', '2025-01-01');`;
    expect(sql).toContain("custom_setting");
    authHeroFile(dir, sql);
    const before = readOnly(cpFile(dir), schemaOf);

    const t = await tenancy(dir);
    expect(t.cp.createdBaseline).toBe(false);
    const after = schemaOf(t.cp.file!.db);
    const added = after.filter((o) => !before.some((b) => b.type === o.type && b.name === o.name));
    expect(added.length).toBeGreaterThan(0);
    expect(added.filter((o) => !o.tbl_name.startsWith("tenantgate_"))).toEqual([]);
    // Nothing of AuthHero's was altered or dropped.
    expect(withoutTenantgate(after)).toEqual(before);

    await t.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    readOnly(join(dir, "tenants", "acme.sqlite"), (db) => {
      expect(withoutTenantgate(schemaOf(db))).toEqual(before);
      const cols = (db.query("SELECT name FROM pragma_table_info('tenants')").all() as { name: string }[]).map((c) => c.name);
      expect(cols).toContain("custom_setting");
      expect(db.query("SELECT id, custom_setting FROM tenants").all()).toEqual([{ id: "acme", custom_setting: "house" }]);
      expect(db.query("SELECT name FROM sqlite_master WHERE name = 'authhero_extra_tenant'").get()).toEqual({ name: "authhero_extra_tenant" });
      expect(db.query("SELECT name FROM kysely_migration").all()).toEqual([{ name: "2025_authhero_m1" }]);
    });
  });

  test("lacking a column tenantgate writes is a clear error naming the table and the column", async () => {
    const dir = dataDir();
    const sql = BASELINE_SQL.replace(/\n  display_name TEXT,\n  branding TEXT,/, "\n  branding TEXT,");
    expect(sql).not.toBe(BASELINE_SQL);
    authHeroFile(dir, sql);
    let message = "";
    try {
      await tenancy(dir);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('"organizations"');
    expect(message).toContain('"display_name"');
    expect(message).toContain(cpFile(dir));
  });

  test("lacking a whole table tenantgate needs is a clear error naming the table", async () => {
    const dir = dataDir();
    authHeroFile(dir, BASELINE_SQL.replace(/CREATE TABLE IF NOT EXISTS custom_domains \([\s\S]*?\);\nCREATE UNIQUE INDEX[^\n]*\n/, ""));
    await expect(tenancy(dir)).rejects.toThrow(/custom_domains/);
  });
});

describe("the trash", () => {
  test("sweep removes files older than the retention period and keeps newer ones", async () => {
    const dir = dataDir();
    const t = await tenancy(dir, ["--trash-retention-days", "30"]);
    const trash = t.files!.trashDir;
    const day = 86_400_000;
    const now = Date.now();
    const put = (name: string, ageDays: number) => {
      const path = join(trash, name);
      writeFileSync(path, "x");
      const when = new Date(now - ageDays * day);
      utimesSync(path, when, when);
    };
    put("old.20240101T000000Z.sqlite", 40);
    put("old.20240101T000000Z.sqlite-wal", 40);
    put("edge.20240101T000000Z.sqlite", 29);
    put("new.20240101T000000Z.sqlite", 1);
    const removed = await t.lifecycle.sweepTrash(now);
    expect(removed.sort()).toEqual(["old.20240101T000000Z.sqlite", "old.20240101T000000Z.sqlite-wal"]);
    expect(readdirSync(trash).sort()).toEqual(["edge.20240101T000000Z.sqlite", "new.20240101T000000Z.sqlite"]);
    // Thirty-one days later everything has aged out.
    expect((await t.lifecycle.sweepTrash(now + 31 * day)).sort()).toEqual(["edge.20240101T000000Z.sqlite", "new.20240101T000000Z.sqlite"]);
    expect(readdirSync(trash)).toEqual([]);
  });

  test("delete moves the whole tenant (WAL folded in) to the trash; purge removes it", async () => {
    const dir = dataDir();
    const t = await tenancy(dir);
    await t.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    await t.lifecycle.create({ id: "beta", friendly_name: "Beta" });
    // A write that sits in the tenant's WAL while a handle is open.
    const db = t.files!.pool.get("acme");
    db.exec("CREATE TABLE IF NOT EXISTS marker (v TEXT)");
    db.query("INSERT INTO marker (v) VALUES ('kept')").run();

    const op = await t.lifecycle.delete("acme");
    expect(op.state).toBe("done");
    expect(await t.cp.tenant("acme")).toBeUndefined();
    expect(await t.cp.organizationOf("acme")).toBeUndefined();
    expect(existsSync(join(dir, "tenants", "acme.sqlite"))).toBe(false);
    const trashed = readdirSync(t.files!.trashDir);
    expect(trashed).toHaveLength(1);
    readOnly(join(t.files!.trashDir, trashed[0] as string), (tdb) => {
      expect(tdb.query("SELECT v FROM marker").all()).toEqual([{ v: "kept" }]);
    });
    expect(await t.registry.status("acme")).toBe("unknown");

    const purged = await t.lifecycle.delete("beta", { purge: true });
    expect(purged.steps.map((s) => s.step)).toEqual(["unregistered", "trashed", "purged"]);
    expect(readdirSync(t.files!.trashDir).filter((n) => n.startsWith("beta."))).toEqual([]);
    await expectHttpError(() => t.lifecycle.delete("beta"), 404);
    await expectHttpError(() => t.lifecycle.delete("control_plane"), 403);
  });
});

test("deleting the same id again soon after keeps every trashed file (no overwrite in the trash)", async () => {
  const dir = dataDir();
  const t = await tenancy(dir);
  for (let round = 1; round <= 3; round++) {
    await t.lifecycle.create({ id: "acme", friendly_name: `Acme round ${round}` });
    await t.lifecycle.delete("acme");
  }
  const trashed = readdirSync(t.files!.trashDir).filter((n) => n.endsWith(".sqlite"));
  expect(trashed).toHaveLength(3);
  const names = trashed.map((n) => readOnly(join(t.files!.trashDir, n), (db) => (db.query("SELECT friendly_name FROM tenants").get() as { friendly_name: string }).friendly_name));
  expect(names.sort()).toEqual(["Acme round 1", "Acme round 2", "Acme round 3"]);
});

describe("adoption", () => {
  test("refuses a file that is not SQLite, or SQLite without AuthHero's tenants table, and touches neither", async () => {
    const dir = dataDir();
    const t = await tenancy(dir);
    const junk = join(dir, "tenants", "junk.sqlite");
    writeFileSync(junk, "this is not a database at all, just some bytes that happen to end in .sqlite\n".repeat(20));
    const content = readFileSync(junk);
    await expectHttpError(() => t.lifecycle.adopt("junk"), 400, /not a SQLite database/);
    expect(readFileSync(junk).equals(content)).toBe(true);

    const other = new Database(join(dir, "tenants", "other.sqlite"), { create: true });
    other.exec("CREATE TABLE things (id INTEGER PRIMARY KEY)");
    other.close(false);
    await expectHttpError(() => t.lifecycle.adopt("other"), 400, /no tenants table/);

    for (const id of ["junk", "other"]) {
      expect(await t.cp.tenant(id)).toBeUndefined();
      expect(await t.cp.organizationOf(id)).toBeUndefined();
      expect(await t.journal.history(id)).toEqual([]);
    }
    await expectHttpError(() => t.lifecycle.adopt("Bad_Name"), 400);
  });

  test("registers a valid tenant file with an organization, taking its friendly name from the file", async () => {
    const dir = dataDir();
    const t = await tenancy(dir);
    await t.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const copy = join(dir, "tenants", "newco.sqlite");
    const src = new Database(join(dir, "tenants", "acme.sqlite"));
    src.query("VACUUM INTO ?").run(copy);
    src.close(false);
    const db = new Database(copy);
    db.query("UPDATE tenants SET id = 'newco', friendly_name = 'New Co'").run();
    db.close(false);
    await t.registry.rescan();
    expect(await t.registry.orphans()).toEqual(["newco"]);

    const op = await t.lifecycle.adopt("newco");
    expect(op.kind).toBe("adopt");
    expect(op.state).toBe("done");
    expect((await t.cp.tenant("newco"))?.friendly_name).toBe("New Co");
    const org = await t.cp.organizationOf("newco");
    expect(org?.id).toMatch(/^org_/);
    expect(org?.id).not.toBe((await t.cp.organizationOf("acme"))?.id);
    expect(await t.registry.orphans()).toEqual([]);
    expect(await t.registry.status("newco")).toBe("ready");
    expect(await t.registry.tenantOfOrg(org?.id as string)).toBe("newco");
    await expectHttpError(() => t.lifecycle.adopt("newco"), 409);
  });
});

describe("concurrent operations on one tenant", () => {
  test("a second operation while one is running gets 409 and changes nothing", async () => {
    const dir = dataDir();
    const t = await tenancy(dir);
    await t.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    // Another process (a CLI beside the gateway) is mid-way through deleting acme.
    const other = await t.journal.begin("delete", "acme", { organization_id: null, purge: false, trash_path: join(t.files!.trashDir, "x.sqlite") });
    await expectHttpError(() => t.lifecycle.delete("acme"), 409, /still running/);
    expect(await t.cp.tenant("acme")).toBeDefined();
    expect(existsSync(join(dir, "tenants", "acme.sqlite"))).toBe(true);
    expect(await t.registry.status("acme")).toBe("ready");

    // And mid-way through creating beta: a create of the same id is refused, no file is built.
    await t.journal.begin("create", "beta", { organization_id: "org_x" });
    await expectHttpError(() => t.lifecycle.create({ id: "beta", friendly_name: "Beta" }), 409, /still running/);
    expect(await t.cp.tenant("beta")).toBeUndefined();
    expect(readdirSync(join(dir, "tenants", ".tmp"))).toEqual([]);
    expect(await t.registry.status("beta")).toBe("unknown");

    // Once the other operation ends, the next one goes through.
    await t.journal.finish(other.id, "failed", "gave up");
    expect((await t.lifecycle.delete("acme")).state).toBe("done");
  });

  test("two gateways' lifecycles over one data dir cannot both create the same tenant", async () => {
    const dir = dataDir();
    const a = await tenancy(dir);
    const b = await tenancy(dir);
    await a.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    await expectHttpError(() => b.lifecycle.create({ id: "acme", friendly_name: "Acme again" }), 409);
    expect(a.cp.file!.db.query("SELECT count(*) AS n FROM organizations WHERE name = 'acme'").get()).toEqual({ n: 1 });
  });
});

test("a plain copy of another tenant's file is refused; re-keyed to its new id it is adopted", async () => {
  const dir = dataDir();
  const t = await tenancy(dir);
  await t.lifecycle.create({ id: "acme", friendly_name: "Acme" });
  copyFileSync(join(dir, "tenants", "acme.sqlite"), join(dir, "tenants", "copy.sqlite"));
  // Its rows say tenant_id = acme: AuthHero would see an empty tenant "copy". Reported, not adopted.
  await expectHttpError(() => t.lifecycle.adopt("copy"), 400, /holds no tenants row for "copy"/);
  expect(await t.cp.tenant("copy")).toBeUndefined();
  expect(await t.cp.organizationOf("copy")).toBeUndefined();
  expect(await t.journal.history("copy")).toEqual([]);

  copyTenantFileAs(join(dir, "tenants", "acme.sqlite"), join(dir, "tenants", "copy2.sqlite"), "acme", "copy2");
  expect((await t.lifecycle.adopt("copy2")).state).toBe("done");
  expect(await t.cp.organizationOf("copy2")).toBeDefined();
});

describe("operations of other processes", () => {
  test("recovery leaves a live process's operation alone and repairs it once that process is dead", async () => {
    const dir = dataDir();
    const t = await tenancy(dir);
    // A CLI command beside the gateway, mid-way through creating acme.
    const cli = Bun.spawn(["sleep", "30"]);
    const start = (await Bun.file(`/proc/${cli.pid}/stat`).text()).split(") ")[1]?.split(" ")[19] ?? null;
    const op = await t.journal.begin("create", "acme", { organization_id: "org_cliXXXXXXXXXXXXXX", friendly_name: "Acme" });
    t.cp.file!.db.query("UPDATE tenantgate_operations SET owner = ? WHERE id = ?").run(JSON.stringify({ host: hostname(), pid: cli.pid, start }), op.id);
    writeFileSync(join(t.files!.tmpDir, `acme.${op.id}.sqlite`), "half-built");

    const first = await t.lifecycle.recover();
    expect(first.live).toEqual([op.id]);
    expect((await t.journal.get(op.id))?.state).toBe("running");
    expect(existsSync(join(t.files!.tmpDir, `acme.${op.id}.sqlite`))).toBe(true);

    cli.kill("SIGKILL");
    await cli.exited;
    const second = await t.lifecycle.recover();
    expect(second.undone).toEqual([op.id]);
    expect((await t.journal.get(op.id))?.state).toBe("rolled_back");
    expect(readdirSync(t.files!.tmpDir)).toEqual([]);
    expect((await t.lifecycle.create({ id: "acme", friendly_name: "Acme" })).tenant.id).toBe("acme");
  });

  test("every operation records the process that runs it", async () => {
    const t = await tenancy(dataDir());
    await t.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const [op] = await t.journal.history("acme");
    expect(op?.owner?.pid).toBe(process.pid);
    expect(op?.owner?.start).toMatch(/^\d+$/);
  });
});

describe("a creator who is not a control-plane user", () => {
  test("on AuthHero's schema (memberships reference users) the tenant is still created, without the membership", async () => {
    const f = await openFixture();
    try {
      // AuthHero's user_organizations: (tenant_id, user_id) references users.
      f.authhero.exec(`
        CREATE TABLE users (tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (tenant_id, user_id));
        DROP TABLE user_organizations;
        CREATE TABLE user_organizations (id TEXT PRIMARY KEY NOT NULL, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, organization_id TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
          FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE,
          FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, user_id) ON DELETE CASCADE);
        INSERT INTO users VALUES ('control_plane', 'auth2|known');
      `);
      expect((await f.lifecycle.create({ id: "ghosted", friendly_name: "G", creator: "dev|admin" })).tenant.id).toBe("ghosted");
      expect(await f.cp.tenantsOfUser("dev|admin")).toEqual([]);
      await f.lifecycle.create({ id: "known", friendly_name: "K", creator: "auth2|known" });
      expect(await f.cp.tenantsOfUser("auth2|known")).toEqual(["known"]);
    } finally {
      f.close();
    }
  });
});
