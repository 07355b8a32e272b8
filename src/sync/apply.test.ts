import { afterEach, describe, expect, test } from "bun:test";
import { divergences } from "../../test/sync/convergence.ts";
import { cpWrites, openFixture, tenantWrites, type SyncFixture } from "../../test/sync/fixture.ts";

// State transfer into tenant files, through the real relay over real files: what the control plane
// says is what every child tenant holds, matched by id, and nothing a tenant owns is ever touched.

let f: SyncFixture;
afterEach(() => f?.close());

type Row = Record<string, unknown>;
const rows = (db: ReturnType<SyncFixture["tenantFile"]>, sql: string, ...args: string[]) => db.query(sql).all(...args) as Row[];

describe("copies", () => {
  test("a new tenant is seeded with every syncable entity and the cursor at the head", async () => {
    f = await openFixture();
    const w = cpWrites(f.authhero);
    w.resourceServer("api_1", "https://api.example.com/", { scopes: [{ value: "read:users", description: "Read users" }] });
    w.role("rol_1", "admin");
    w.permission("rol_1", "https://api.example.com/", "read:users");
    w.connection("con_1", "corp-oidc", { client_id: "abc", client_secret: "s3cret", scope: "openid" });
    const head = await f.relay.head();
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });

    const acme = f.tenantFile("acme");
    const [rs] = rows(acme, "SELECT * FROM resource_servers");
    expect(rs).toMatchObject({ id: "api_1", tenant_id: "acme", identifier: "https://api.example.com/", is_system: 1, scopes: JSON.stringify([{ value: "read:users", description: "Read users" }]) });
    // Metadata as the original's (none): AuthHero reads the copy as it reads the original.
    expect(rs?.metadata).toBe(rows(f.authhero, "SELECT metadata FROM resource_servers WHERE id = 'api_1'")[0]?.metadata ?? null);
    expect(rows(acme, "SELECT id, name, is_system, tenant_id FROM roles")).toEqual([{ id: "rol_1", name: "admin", is_system: 1, tenant_id: "acme" }]);
    expect(rows(acme, "SELECT tenant_id, role_id, resource_server_identifier, permission_name FROM role_permissions")).toEqual([
      { tenant_id: "acme", role_id: "rol_1", resource_server_identifier: "https://api.example.com/", permission_name: "read:users" },
    ]);
    // Secrets stay on the control plane; the AuthHero adapter fills them in at read time.
    expect(JSON.parse(rows(acme, "SELECT options FROM connections")[0]?.options as string)).toEqual({ client_id: "abc", scope: "openid" });
    expect(rows(acme, "SELECT cursor FROM tenantgate_sync")).toEqual([{ cursor: head }]);
  });

  test("a copy holds none of the control plane's secrets nor the hints AuthHero shows of them, seeded or updated", async () => {
    // Whatever a tenant file holds, the tenant's admin reads through AuthHero's management API, which
    // answers app_secret and configuration.client_secret with a hint of their first characters.
    f = await openFixture();
    const w = cpWrites(f.authhero);
    const options = {
      client_id: "abc",
      client_secret: "cp-client-secret-0123456789",
      client_secret_hint: "cp-c••••••••",
      app_secret: "cp-app-secret-0123456789",
      configuration: { token_endpoint: "https://idp.example/token", client_id: "mig", client_secret: "cp-migration-secret-0123456789" },
      scope: "openid",
    };
    w.connection("con_1", "corp", options);
    w.resourceServer("api_1", "https://api.example.com/");
    f.authhero.exec("UPDATE resource_servers SET signing_secret = 'cp-signing-secret-0123456789' WHERE id = 'api_1'");
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    // An update arrives through the relay, not the seed.
    f.authhero.query("UPDATE connections SET options = ? WHERE id = 'con_1'").run(JSON.stringify({ ...options, scope: "openid email" }));
    f.authhero.exec("UPDATE resource_servers SET name = 'API v2' WHERE id = 'api_1'");
    await f.lifecycle.create({ id: "beta", friendly_name: "Beta" });
    await f.relay.drain();

    // acme took the update from the relay, beta was seeded after it.
    for (const id of ["acme", "beta"]) {
      const db = f.tenantFile(id);
      expect(JSON.parse(rows(db, "SELECT options FROM connections WHERE id = 'con_1'")[0]?.options as string)).toEqual({
        client_id: "abc",
        configuration: { token_endpoint: "https://idp.example/token", client_id: "mig" },
        scope: "openid email",
      });
      expect(rows(db, "SELECT name, signing_secret FROM resource_servers WHERE id = 'api_1'")).toEqual([{ name: "API v2", signing_secret: null }]);
      const dump = JSON.stringify([rows(db, "SELECT * FROM connections"), rows(db, "SELECT * FROM resource_servers")]);
      expect(dump).not.toContain("cp-");
    }
  });

  test("updates, renames, permission changes and deletes arrive by id", async () => {
    f = await openFixture();
    const w = cpWrites(f.authhero);
    w.role("rol_1", "admin");
    w.permission("rol_1", "https://api/", "read:x");
    w.resourceServer("api_1", "https://api/");
    w.connection("con_1", "db", {});
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    await f.lifecycle.create({ id: "beta", friendly_name: "Beta" });

    f.authhero.exec("UPDATE roles SET name = 'administrator', description = 'renamed' WHERE id = 'rol_1'");
    w.permission("rol_1", "https://api/", "write:x");
    f.authhero.exec("DELETE FROM role_permissions WHERE permission_name = 'read:x'");
    f.authhero.exec("UPDATE resource_servers SET identifier = 'https://api.v2/', name = 'API v2' WHERE id = 'api_1'");
    f.authhero.exec("DELETE FROM connections WHERE id = 'con_1'");
    await f.relay.drain();

    for (const id of ["acme", "beta"]) {
      const db = f.tenantFile(id);
      expect(rows(db, "SELECT id, name, description FROM roles")).toEqual([{ id: "rol_1", name: "administrator", description: "renamed" }]);
      expect(rows(db, "SELECT permission_name FROM role_permissions")).toEqual([{ permission_name: "write:x" }]);
      expect(rows(db, "SELECT id, identifier, name FROM resource_servers")).toEqual([{ id: "api_1", identifier: "https://api.v2/", name: "API v2" }]);
      expect(rows(db, "SELECT id FROM connections")).toEqual([]);
      expect(rows(db, "SELECT cursor FROM tenantgate_sync")).toEqual([{ cursor: await f.relay.head() }]);
    }
  });

  test("an entity that stops being syncable leaves every tenant; syncable again, it comes back", async () => {
    f = await openFixture();
    const w = cpWrites(f.authhero);
    w.role("rol_1", "admin");
    w.role("rol_private", "internal", { sync: false });
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const acme = f.tenantFile("acme");
    expect(rows(acme, "SELECT id FROM roles")).toEqual([{ id: "rol_1" }]);

    f.authhero.exec(`UPDATE roles SET metadata = '{"sync":false}' WHERE id = 'rol_1'`);
    await f.relay.drain();
    expect(rows(acme, "SELECT id FROM roles")).toEqual([]);
    f.authhero.exec(`UPDATE roles SET metadata = '{"sync":true}' WHERE id IN ('rol_1', 'rol_private')`);
    await f.relay.drain();
    expect(rows(acme, "SELECT id FROM roles ORDER BY id")).toEqual([{ id: "rol_1" }, { id: "rol_private" }]);
  });

  test("per-kind switches and the metadata filter decide what is synced", async () => {
    f = await openFixture(["--no-sync-connections", "--sync-filter", "shared=yes"]);
    const w = cpWrites(f.authhero);
    w.role("rol_shared", "shared", { shared: "yes" });
    w.role("rol_other", "other", { shared: "no" });
    w.role("rol_plain", "plain");
    w.connection("con_1", "db", {}, { shared: "yes" });
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const acme = f.tenantFile("acme");
    expect(rows(acme, "SELECT id FROM roles")).toEqual([{ id: "rol_shared" }]);
    expect(rows(acme, "SELECT id FROM connections")).toEqual([]);
  });

  test("the control plane's other tenants' rows (tenant_id not the control plane) are never captured", async () => {
    f = await openFixture();
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const head = await f.relay.head();
    f.authhero.exec("INSERT INTO roles (id, tenant_id, name, created_at, updated_at) VALUES ('rol_x', 'someone-else', 'x', 'now', 'now')");
    expect(await f.relay.head()).toBe(head);
  });
});

describe("conflicts and tenant-owned entities", () => {
  test("a tenant's own role with a synced role's name is kept; the conflict is recorded; the rest applies", async () => {
    f = await openFixture();
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const acme = f.tenantFile("acme");
    tenantWrites(acme, "acme").role("rol_mine", "admin");
    tenantWrites(acme, "acme").resourceServer("api_mine", "https://api/");
    const before = rows(acme, "SELECT * FROM roles WHERE id = 'rol_mine'");

    const w = cpWrites(f.authhero);
    w.role("rol_cp", "admin");
    w.resourceServer("api_cp", "https://api/");
    w.role("rol_ok", "support");
    await f.relay.drain();

    expect(rows(acme, "SELECT * FROM roles WHERE id = 'rol_mine'")).toEqual(before);
    expect(rows(acme, "SELECT id FROM roles WHERE is_system = 1")).toEqual([{ id: "rol_ok" }]);
    expect(rows(acme, "SELECT id FROM resource_servers WHERE is_system = 1")).toEqual([]);
    const status = await f.relay.status("acme");
    expect(status.conflicts).toBe(2);
    expect(status.conflict_list.map(({ entity, entity_id, key_value, tenant_entity_id }) => ({ entity, entity_id, key_value, tenant_entity_id }))).toEqual([
      { entity: "resource_server", entity_id: "api_cp", key_value: "https://api/", tenant_entity_id: "api_mine" },
      { entity: "role", entity_id: "rol_cp", key_value: "admin", tenant_entity_id: "rol_mine" },
    ]);
    expect(status.state).toBe("in_sync");

    // The tenant renames its own role: the conflict clears on the next reconcile and the copy arrives.
    acme.exec("UPDATE roles SET name = 'my-admin' WHERE id = 'rol_mine'");
    expect((await f.relay.reconcile("acme")).conflicts).toBe(1);
    expect(rows(acme, "SELECT id FROM roles WHERE is_system = 1 ORDER BY id")).toEqual([{ id: "rol_cp" }, { id: "rol_ok" }]);
  });

  test("a connection the control plane adds under a name the tenant's own connection has is a conflict, not a second connection of that name", async () => {
    f = await openFixture();
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const acme = f.tenantFile("acme");
    acme.exec("INSERT INTO connections (id, tenant_id, name, strategy, options, is_system, created_at, updated_at) VALUES ('con_mine', 'acme', 'corp', 'oidc', '{}', 0, 'x', 'x')");
    const w = cpWrites(f.authhero);
    w.connection("con_cp", "corp", {});
    // AuthHero lets the control plane hold two connections of one name: the tenant gets both copies.
    w.connection("con_a", "shared", {});
    w.connection("con_b", "shared", {});
    await f.relay.drain();

    expect(rows(acme, "SELECT id, name, is_system FROM connections WHERE name IN ('corp', 'shared') ORDER BY id")).toEqual([
      { id: "con_a", name: "shared", is_system: 1 },
      { id: "con_b", name: "shared", is_system: 1 },
      { id: "con_mine", name: "corp", is_system: 0 },
    ]);
    expect((await f.relay.status("acme")).conflict_list.map(({ entity, entity_id, key_value, tenant_entity_id }) => ({ entity, entity_id, key_value, tenant_entity_id }))).toEqual([
      { entity: "connection", entity_id: "con_cp", key_value: "corp", tenant_entity_id: "con_mine" },
    ]);
    expect(divergences(f.authhero, acme, "acme")).toEqual([]);
    // Renamed on the control plane onto the other's name, it still stays beside it.
    f.authhero.exec("UPDATE connections SET name = 'shared', updated_at = 'y' WHERE id = 'con_cp'");
    await f.relay.drain();
    expect(rows(acme, "SELECT id FROM connections WHERE name = 'shared' ORDER BY id")).toEqual([{ id: "con_a" }, { id: "con_b" }, { id: "con_cp" }]);
    expect((await f.relay.status("acme")).conflicts).toBe(0);
  });

  test("deleting a control-plane entity never deletes a tenant-owned row with the same id", async () => {
    f = await openFixture();
    const w = cpWrites(f.authhero);
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const acme = f.tenantFile("acme");
    tenantWrites(acme, "acme").role("rol_same", "tenant-role");
    w.role("rol_same", "cp-role");
    await f.relay.drain();
    expect(rows(acme, "SELECT name, is_system FROM roles")).toEqual([{ name: "tenant-role", is_system: 0 }]);
    expect((await f.relay.status("acme")).conflict_list[0]).toMatchObject({ entity: "role", entity_id: "rol_same", tenant_entity_id: "rol_same" });
    f.authhero.exec("DELETE FROM roles WHERE id = 'rol_same'");
    await f.relay.drain();
    expect(rows(acme, "SELECT name, is_system FROM roles")).toEqual([{ name: "tenant-role", is_system: 0 }]);
    expect((await f.relay.status("acme")).conflict_list).toEqual([]);
  });

  test("reconcile repairs drift and removes stray copies, and says how much it changed", async () => {
    f = await openFixture();
    const w = cpWrites(f.authhero);
    w.role("rol_1", "admin");
    w.permission("rol_1", "https://api/", "read:x");
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const acme = f.tenantFile("acme");
    acme.exec("UPDATE roles SET name = 'edited by hand' WHERE id = 'rol_1'");
    acme.exec("DELETE FROM role_permissions");
    acme.exec("INSERT INTO roles (id, tenant_id, name, is_system, created_at, updated_at) VALUES ('rol_stray', 'acme', 'stray', 1, 'x', 'x')");
    expect((await f.relay.reconcile("acme")).changed).toBe(2);
    expect(rows(acme, "SELECT id, name FROM roles")).toEqual([{ id: "rol_1", name: "admin" }]);
    expect(rows(acme, "SELECT permission_name FROM role_permissions")).toEqual([{ permission_name: "read:x" }]);
    expect((await f.relay.reconcile("acme")).changed).toBe(0);
  });

  test("applying the same batch twice changes nothing (idempotent)", async () => {
    f = await openFixture();
    const w = cpWrites(f.authhero);
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    w.role("rol_1", "admin");
    await f.relay.drain();
    const acme = f.tenantFile("acme");
    const snapshot = rows(acme, "SELECT * FROM roles");
    // Force a replay from an older cursor: state transfer makes it a no-op.
    acme.exec("UPDATE tenantgate_sync SET cursor = 0");
    expect((await f.relay.reconcile("acme")).changed).toBe(0);
    expect(rows(acme, "SELECT * FROM roles")).toEqual(snapshot);
  });
});

describe("a cursor past the control plane's head", () => {
  // A file put in place by hand from another deployment, or a control plane put back from an older
  // backup: the cursor counts another outbox's events, and says nothing about which copies are right.
  test("is never reported, and the relay reconciles the file in full", async () => {
    f = await openFixture();
    const w = cpWrites(f.authhero);
    w.role("rol_1", "admin");
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const acme = f.tenantFile("acme");
    const head = await f.relay.head();
    acme.exec("INSERT INTO roles (id, tenant_id, name, is_system, created_at, updated_at) VALUES ('rol_foreign', 'acme', 'foreign', 1, 'x', 'x')");
    acme.query("UPDATE tenantgate_sync SET cursor = ?").run(head + 19);

    const status = await f.relay.status("acme");
    expect(status).toMatchObject({ cursor: null, lag: null, head, state: "lagging" });
    expect(await f.relay.summary()).toMatchObject({ head, in_sync: 0, lagging: 1 });
    await f.relay.drain();
    expect(await f.relay.status("acme")).toMatchObject({ cursor: head, state: "in_sync" });
    expect(rows(acme, "SELECT id FROM roles ORDER BY id")).toEqual([{ id: "rol_1" }]);
    expect(divergences(f.authhero, acme, "acme")).toEqual([]);
  });
});
