import { afterEach, expect, test } from "bun:test";
import { ensureTriggers, TRIGGER_COUNT } from "./index.ts";
import { cpWrites, openFixture, type SyncFixture } from "../../test/sync/fixture.ts";

let f: SyncFixture;
afterEach(() => f?.close());

const outbox = (f: SyncFixture) => f.authhero.query("SELECT entity, entity_id, op FROM tenantgate_outbox ORDER BY seq").all();
const triggers = (f: SyncFixture) => (f.authhero.query("SELECT count(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'tenantgate_%'").get() as { n: number }).n;

test("every write path is captured inside the writer's own transaction", async () => {
  f = await openFixture();
  const w = cpWrites(f.authhero);
  const start = await f.relay.head();
  w.role("rol_1", "admin");
  w.permission("rol_1", "https://api/", "read:x");
  f.authhero.exec("UPDATE roles SET name = 'x' WHERE id = 'rol_1'");
  f.authhero.exec("UPDATE roles SET id = 'rol_2' WHERE id = 'rol_1'");
  w.connection("con_1", "db", {});
  f.authhero.exec("DELETE FROM connections");
  // A transaction that rolls back leaves no trace in the outbox.
  f.authhero.exec("BEGIN");
  w.resourceServer("api_1", "https://api/");
  f.authhero.exec("ROLLBACK");
  expect(await f.relay.head()).toBe(start + 7);
  expect(outbox(f).slice(-7)).toEqual([
    { entity: "role", entity_id: "rol_1", op: "insert" },
    { entity: "role", entity_id: "rol_1", op: "insert" },
    { entity: "role", entity_id: "rol_1", op: "update" },
    { entity: "role", entity_id: "rol_2", op: "update" },
    { entity: "role", entity_id: "rol_1", op: "delete" },
    { entity: "connection", entity_id: "con_1", op: "insert" },
    { entity: "connection", entity_id: "con_1", op: "delete" },
  ]);
});

test("organizations are captured for the routing caches, and tenantgate's own provisioning shows there", async () => {
  f = await openFixture();
  const start = await f.relay.head();
  const created = await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
  expect(outbox(f).slice(start)).toEqual([{ entity: "organization", entity_id: created.organization_id, op: "insert" }]);
});

test("installing is idempotent; a table rebuilt by a migration loses its triggers and they come back", async () => {
  f = await openFixture();
  expect(triggers(f)).toBe(TRIGGER_COUNT);
  expect(await ensureTriggers(f.cp.sql, "control_plane")).toEqual([]);
  // SQLite's way to alter a table: build a new one, copy, drop the old, rename. Triggers go with the old.
  f.authhero.exec(`
    CREATE TABLE roles_new AS SELECT * FROM roles;
    DROP TABLE roles;
    ALTER TABLE roles_new RENAME TO roles;
  `);
  expect(triggers(f)).toBe(TRIGGER_COUNT - 3);
  expect((await ensureTriggers(f.cp.sql, "control_plane")).sort()).toEqual(["tenantgate_roles_delete", "tenantgate_roles_insert", "tenantgate_roles_update"]);
  expect(triggers(f)).toBe(TRIGGER_COUNT);
});

test("tenant files get none of the control plane's tenantgate objects", async () => {
  f = await openFixture();
  await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
  const names = (f.tenantFile("acme").query("SELECT name FROM sqlite_master WHERE name LIKE 'tenantgate%'").all() as { name: string }[]).map((r) => r.name).sort();
  // Only the tenant's own: its mark (made with the file) and its sync bookkeeping (made by the relay).
  expect(names).toEqual(["tenantgate_origin", "tenantgate_sync", "tenantgate_sync_conflicts"]);
  expect(f.tenantFile("acme").query("SELECT tenant_id FROM tenantgate_origin").all()).toEqual([{ tenant_id: "acme" }]);
});
