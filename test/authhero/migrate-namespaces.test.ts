import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Client } from "@libsql/client/web";
import { createTenantFileAdapters, libsqlTenantDatabases, migrateTenantNamespaces } from "../../src/authhero/index.ts";
import { BASELINE_SQL } from "../../src/storage/baseline.ts";
import { LibsqlDb, SqldAdmin } from "../../src/storage/libsql.ts";
import { startSqld, type Sqld } from "../support/sqld.ts";
import { EXTRA_TABLES, sqlAdapters } from "./sqlite-adapters.ts";

// The example host's migration pass on a libSQL server: every namespace the control plane lists,
// the control plane first, one at a time under a lease in the control plane, over a real sqld. The
// migration below behaves like AuthHero's kysely migrator on libSQL: unlocked, not in a transaction,
// and it fails on a namespace another host is migrating at the same moment (the column exists by then).

let sqld: Sqld;
let admin: SqldAdmin;
const db = (ns: string) => new LibsqlDb({ url: sqld.url }, ns);
const NAME = "2026-12-01T00:00:00_roles_extra";

/** A control plane `cp` made by AuthHero (its migrations recorded) listing `tenants`, each a namespace cloned alike. */
async function deployment(cp: string, tenants: string[], o: { recorded?: boolean } = {}): Promise<void> {
  const now = new Date().toISOString();
  for (const ns of [cp, ...tenants]) {
    await admin.create(ns);
    await db(ns).script(BASELINE_SQL + EXTRA_TABLES);
    if (o.recorded !== false) await db(ns).run("INSERT INTO kysely_migration (name, timestamp) VALUES ('2026-07-16T14:00:00_baseline', ?)", [now]);
    await db(ns).run("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES (?, ?, ?, ?)", [ns, ns, now, now]);
  }
  for (const id of tenants) await db(cp).run("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES (?, ?, ?, ?)", [id, id, now, now]);
}

async function migrate(client: Client): Promise<void> {
  const done = await client.execute({ sql: "SELECT 1 FROM kysely_migration WHERE name = ?", args: [NAME] });
  if (done.rows.length > 0) return;
  await Bun.sleep(30); // the window in which a second migrator sees the same "not yet"
  await client.execute("ALTER TABLE roles ADD COLUMN extra TEXT");
  await client.execute({ sql: "INSERT INTO kysely_migration (name, timestamp) VALUES (?, ?)", args: [NAME, new Date().toISOString()] });
}

const hasExtra = async (ns: string) => (await db(ns).all<{ name: string }>("SELECT name FROM pragma_table_info('roles')")).some((c) => c.name === "extra");

beforeAll(async () => {
  sqld = await startSqld();
  admin = new SqldAdmin(sqld.adminUrl);
});
afterAll(async () => {
  await sqld?.dispose();
});

test("the control plane first, then every tenant it lists; a namespace it does not list is left alone; the module reads the new schema", async () => {
  await deployment("cp_order", ["o-b", "o-a"]);
  await deployment("o-unlisted", []);
  const seen: string[] = [];
  const pass = await migrateTenantNamespaces({ server: { url: sqld.url }, controlPlaneTenantId: "cp_order", migrate: async (client, id) => (seen.push(id), migrate(client)) });
  expect(pass).toEqual({ migrated: ["cp_order", "o-a", "o-b"], failed: [] });
  expect(seen).toEqual(["cp_order", "o-a", "o-b"]);
  for (const ns of ["cp_order", "o-a", "o-b"]) expect(await hasExtra(ns)).toBe(true);
  expect(await hasExtra("o-unlisted")).toBe(false);
  // The lease is handed back: nothing of the pass is left in the control plane.
  expect(await db("cp_order").all("SELECT * FROM tenantgate_host_migration")).toEqual([]);

  // What the host does next: AuthHero's adapters over the same namespaces, through the module.
  const module = createTenantFileAdapters({
    controlPlaneTenantId: "cp_order",
    databases: libsqlTenantDatabases({ server: { url: sqld.url }, controlPlaneTenantId: "cp_order", open: (client, id) => sqlAdapters(new LibsqlDb({ url: sqld.url }, id, undefined, client)) }),
  });
  try {
    await module.managementDataAdapter.connections.create("o-a", { id: "con_1", name: "c", strategy: "auth0", options: {} } as never);
    expect((await module.managementDataAdapter.connections.list("o-a")).connections.map((c) => c.id)).toEqual(["con_1"]);
  } finally {
    module.close();
  }
});

test("two hosts starting at the same moment: every namespace migrated once, nothing failed (what the lease is for)", async () => {
  const tenants = Array.from({ length: 6 }, (_, i) => `c-t${i}`);
  await deployment("cp_race", tenants);
  // Without the lease the same two migrators collide on one namespace.
  await deployment("c-bare", []);
  const bare = await Promise.allSettled([0, 1].map(() => migrate(db("c-bare").client)));
  expect(bare.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);

  const altered: string[] = [];
  const counting = async (client: Client, id: string) => {
    const before = (await client.execute({ sql: "SELECT 1 FROM kysely_migration WHERE name = ?", args: [NAME] })).rows.length;
    await migrate(client);
    if (before === 0) altered.push(id);
  };
  const passes = await Promise.all([0, 1].map(() => migrateTenantNamespaces({ server: { url: sqld.url }, controlPlaneTenantId: "cp_race", migrate: counting })));
  expect(passes.map((p) => p.failed)).toEqual([[], []]);
  expect(altered.sort()).toEqual(["c-t0", "c-t1", "c-t2", "c-t3", "c-t4", "c-t5", "cp_race"]);
  for (const ns of ["cp_race", ...tenants]) expect(await hasExtra(ns)).toBe(true);
});

test("a lease left by a host that died mid-pass is taken once it lapses", async () => {
  await deployment("cp_dead", ["d-a"]);
  await db("cp_dead").script("CREATE TABLE tenantgate_host_migration (id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT NOT NULL, expires_at REAL NOT NULL)");
  await db("cp_dead").run("INSERT INTO tenantgate_host_migration (id, holder, expires_at) VALUES (1, 'gone', ((julianday('now') - 2440587.5) * 86400000.0) + 600)");
  const started = performance.now();
  const pass = await migrateTenantNamespaces({ server: { url: sqld.url }, controlPlaneTenantId: "cp_dead", migrate });
  expect(pass.failed).toEqual([]);
  expect(performance.now() - started).toBeGreaterThan(500);
  expect(performance.now() - started).toBeLessThan(5_000);
});

test("a namespace that fails, or that the server lacks, is reported and the pass goes on", async () => {
  await deployment("cp_fail", ["f-a", "f-b"]);
  await db("cp_fail").run("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES ('f-gone', 'x', '', '')");
  const pass = await migrateTenantNamespaces({
    server: { url: sqld.url },
    controlPlaneTenantId: "cp_fail",
    migrate: async (client, id) => {
      if (id === "f-a") throw new Error("no space left");
      await migrate(client);
    },
  });
  expect(pass.migrated).toEqual(["cp_fail", "f-b"]);
  expect(pass.failed).toEqual([
    { tenantId: "f-a", error: "no space left" },
    { tenantId: "f-gone", error: expect.stringMatching(/no namespace "f-gone"/) },
  ]);
});

test("a control plane tenantgate made on its own is named as such, not handed to AuthHero's migrator; a server without it says so", async () => {
  await deployment("cp_tg", [], { recorded: false });
  const called: string[] = [];
  const pass = await migrateTenantNamespaces({ server: { url: sqld.url }, controlPlaneTenantId: "cp_tg", migrate: async (_c, id) => void called.push(id) });
  expect(pass.failed).toEqual([{ tenantId: "cp_tg", error: expect.stringMatching(/tenantgate's own minimal schema.*start the AuthHero host first/) }]);
  expect(called).toEqual([]);

  const none = await migrateTenantNamespaces({ server: { url: sqld.url }, controlPlaneTenantId: "cp_none", migrate: async (_c, id) => void called.push(id) });
  expect(none.failed).toEqual([{ tenantId: "cp_none", error: expect.stringMatching(/no namespace "cp_none"/) }]);
});
