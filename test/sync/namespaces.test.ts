// The relay's apply into tenants held as namespaces of a real libSQL server (sqld), through the
// namespace store: the same relay, plan and apply code as for files, with the control plane still a
// local file. The store cannot tell a replaced namespace (its identity is undefined) and offers no
// worker threads.
import { afterAll, beforeAll, expect, test } from "bun:test";
import pino from "pino";
import { SqldAdmin } from "../../src/storage/libsql.ts";
import { NamespaceTenantStore, readSchemaTemplate } from "../../src/storage/index.ts";
import { OutboxRelay, syncRules } from "../../src/sync/index.ts";
import { startSqld, type Sqld } from "../support/sqld.ts";
import { cpWrites, openFixture, type SyncFixture } from "./fixture.ts";

const TENANTS = ["acme", "beta"];

let sqld: Sqld;
let f: SyncFixture;
let store: NamespaceTenantStore;
let relay: OutboxRelay;

beforeAll(async () => {
  sqld = await startSqld();
  f = await openFixture();
  const admin = new SqldAdmin(sqld.adminUrl);
  store = new NamespaceTenantStore({ server: { url: sqld.url }, admin, controlPlane: f.cp.sql, controlPlaneId: f.cp.id, maxClients: 10, isValidId: (id) => TENANTS.includes(id) });
  const template = await readSchemaTemplate(f.cp.sql);
  const registry = {
    cachedTenantIds: () => [f.cp.id, ...TENANTS],
    cachedStatus: () => "ready" as const,
    unreadableReason: () => undefined,
    refresh: async () => {},
    fileUnreadable: () => {},
  };
  relay = new OutboxRelay({ cp: f.cp, commits: f.commits, store, registry, rules: syncRules(f.config), log: pino({ level: "silent" }), pollMs: 60_000, retentionMs: 3_600_000, workers: 4 });
  await relay.prepare();
  cpWrites(f.authhero).role("rol_before", "before");
  // Each namespace made as a new tenant's file is: the control plane's schema, then the relay's seed.
  for (const id of TENANTS) {
    expect(await admin.create(id)).toBe(true);
    await store.use(id, async (db) => {
      await db.batch(template.ddl.map((sql) => ({ sql })));
      await db.run("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES (?, ?, ?, ?)", [id, id, "now", "now"]);
      await relay.seed(db, id);
    });
  }
});

afterAll(async () => {
  await relay?.stop();
  f?.close();
  await sqld?.dispose();
});

const rolesIn = (id: string) =>
  store.use(id, (db) => db.all<{ id: string; tenant_id: string; name: string; is_system: number }>("SELECT id, tenant_id, name, is_system FROM roles ORDER BY id"));

test("a namespace seeded from the control plane holds its copies and the head as its cursor", async () => {
  const head = await relay.head();
  for (const id of TENANTS) {
    expect(await rolesIn(id)).toEqual([{ id: "rol_before", tenant_id: id, name: "before", is_system: 1 }]);
    expect(await relay.status(id)).toMatchObject({ cursor: head, state: "in_sync", lag: 0 });
  }
});

test("a control-plane change reaches every namespace with its cursor; a tenant's own entity of the same name is a conflict, and the rest applies", async () => {
  await store.use("beta", (db) => db.run("INSERT INTO roles (id, tenant_id, name, is_system, created_at, updated_at) VALUES ('own_viewer', 'beta', 'viewer', 0, 'now', 'now')"));
  const cp = cpWrites(f.authhero);
  cp.resourceServer("rs_api", "https://api.example.com");
  cp.role("rol_viewer", "viewer");
  cp.permission("rol_viewer", "https://api.example.com", "read:x");
  cp.connection("con_oidc", "oidc", { client_id: "id", client_secret: "never copied" });
  f.authhero.query("DELETE FROM roles WHERE id = 'rol_before'").run();
  await relay.drain();
  const head = await relay.head();

  expect(await rolesIn("acme")).toEqual([{ id: "rol_viewer", tenant_id: "acme", name: "viewer", is_system: 1 }]);
  expect(await store.use("acme", (db) => db.all("SELECT role_id, permission_name FROM role_permissions"))).toEqual([{ role_id: "rol_viewer", permission_name: "read:x" }]);
  expect(await store.use("acme", (db) => db.get<{ options: string }>("SELECT options FROM connections WHERE id = 'con_oidc'"))).toEqual({ options: JSON.stringify({ client_id: "id" }) });
  expect(await rolesIn("beta")).toEqual([{ id: "own_viewer", tenant_id: "beta", name: "viewer", is_system: 0 }]);
  for (const id of TENANTS) expect(await store.use(id, (db) => db.get("SELECT cursor FROM tenantgate_sync"))).toEqual({ cursor: head });

  expect(await relay.status("acme")).toMatchObject({ cursor: head, state: "in_sync", conflicts: 0 });
  const beta = await relay.status("beta");
  expect(beta).toMatchObject({ cursor: head, state: "in_sync", conflicts: 1 });
  expect(beta.conflict_list).toEqual([{ entity: "role", entity_id: "rol_viewer", key_value: "viewer", tenant_entity_id: "own_viewer", detected_at: expect.any(String) }]);
});

test("a store that cannot tell a replaced namespace has every cursor read again at a rescan, and a namespace rolled back is caught up", async () => {
  const head = await relay.head();
  // Someone else set acme's cursor back and dropped its copies (as a restore of an old copy would).
  await store.use("acme", (db) => db.batch([{ sql: "UPDATE tenantgate_sync SET cursor = 0" }, { sql: "DELETE FROM roles" }, { sql: "DELETE FROM role_permissions" }]));
  await relay.recheckFiles();
  await relay.drain();
  expect(await rolesIn("acme")).toEqual([{ id: "rol_viewer", tenant_id: "acme", name: "viewer", is_system: 1 }]);
  expect(await relay.status("acme")).toMatchObject({ cursor: head, state: "in_sync" });
});
