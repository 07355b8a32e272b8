import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileTenantStore, HandlePool, NamespaceTenantStore, TenantFileError, type SchemaTemplate, type TenantStore } from "../../src/storage/index.ts";
import { BunSqlDb } from "../../src/storage/sql.ts";
import { LibsqlDb, SqldAdmin } from "../../src/storage/libsql.ts";
import { startSqld, type Sqld } from "../support/sqld.ts";

// The TenantStore contract, run on both implementations: tenants as local files and as namespaces
// of a real sqld. The lifecycle, the backups and the relay rely on exactly this.

const TEMPLATE: SchemaTemplate = {
  ddl: ["CREATE TABLE tenants (id TEXT PRIMARY KEY, friendly_name TEXT)", "CREATE TABLE roles (id TEXT PRIMARY KEY, name TEXT NOT NULL)", "CREATE INDEX roles_name ON roles (name)"],
  bookkeeping: [],
};

let sqld: Sqld;
let root: string;
const isTenant = (id: string) => /^[a-z0-9-]+$/.test(id);

beforeAll(async () => {
  sqld = await startSqld();
  root = mkdtempSync(join(tmpdir(), "tenantgate-store-"));
});
afterAll(async () => {
  await sqld?.dispose();
  rmSync(root, { recursive: true, force: true });
});

const stores: Record<string, () => Promise<TenantStore>> = {
  "local files": async () => {
    const dir = join(root, "files");
    mkdirSync(dir, { recursive: true });
    return new FileTenantStore(dir, new HandlePool({ dir, maxOpen: 4, isValidId: isTenant }), (id) => isTenant(id) || id === "control_plane");
  },
  "sqld namespaces": async () => {
    const admin = new SqldAdmin(sqld.adminUrl);
    await admin.create("control_plane");
    return new NamespaceTenantStore({ server: { url: sqld.url }, admin, controlPlane: new LibsqlDb({ url: sqld.url }, "control_plane"), controlPlaneId: "control_plane", maxClients: 4, isValidId: isTenant });
  },
};

describe.each(Object.keys(stores))("TenantStore on %s", (kind) => {
  let store: TenantStore;
  beforeAll(async () => {
    store = await (stores[kind] as () => Promise<TenantStore>)();
  });
  const roles = (id: string) => store.use(id, (db) => db.all<{ id: string }>("SELECT id FROM roles ORDER BY id"));

  test("a build is not the tenant's until it is placed; placed, it is read and written through use", async () => {
    expect(await store.exists("acme")).toBe(false);
    await store.build("acme", "op1", TEMPLATE, async (db) => {
      await db.run("INSERT INTO tenants (id, friendly_name) VALUES ('acme', 'Acme')");
      await db.run("INSERT INTO roles (id, name) VALUES ('r1', 'one')");
    });
    expect(await store.built("acme", "op1")).toBe(true);
    await store.place("acme", "op1");
    await store.place("acme", "op1"); // again, after a crash: nothing to do
    expect(await store.exists("acme")).toBe(true);
    expect(await roles("acme")).toEqual([{ id: "r1" }]);
    await store.use("acme", (db) => db.run("INSERT INTO roles (id, name) VALUES ('r2', 'two')"));
    expect(await roles("acme")).toEqual([{ id: "r1" }, { id: "r2" }]);
  });

  test("a build that is discarded leaves nothing", async () => {
    await store.build("gone", "op2", TEMPLATE, async () => {});
    await store.discard("gone", "op2");
    expect(await store.built("gone", "op2")).toBe(false);
    expect(await store.exists("gone")).toBe(false);
  });

  test("archived, the tenant is gone and its data kept under its trash name; put back, it is there again; purged, gone for good", async () => {
    const trash = await store.trashName("acme", "20261208T000000Z");
    await store.archive("acme", trash);
    await store.archive("acme", trash); // again: nothing to do
    expect(await store.exists("acme")).toBe(false);
    await expect(store.use("acme", (db) => db.get("SELECT 1"))).rejects.toBeInstanceOf(TenantFileError);
    await store.unarchive("acme", trash);
    expect(await roles("acme")).toEqual([{ id: "r1" }, { id: "r2" }]);
    await store.archive("acme", trash);
    await store.purge(trash);
    await store.unarchive("acme", trash); // nothing left to put back
    expect(await store.exists("acme")).toBe(false);
  });

  test("the trash is swept of what is older than the retention, and only that", async () => {
    for (const id of ["old", "new"]) {
      await store.build(id, `op-${id}`, TEMPLATE, async () => {});
      await store.place(id, `op-${id}`);
    }
    await store.archive("old", await store.trashName("old", "20261208T000001Z"));
    expect(await store.sweepTrash(Date.now(), 60_000)).toEqual([]);
    const swept = await store.sweepTrash(Date.now() + 120_000, 60_000);
    expect(swept).toHaveLength(1);
    await store.archive("new", await store.trashName("new", "20261208T000002Z"));
    expect(await store.sweepTrash(Date.now(), 60_000)).toEqual([]);
  });

  test("exported to a local file and placed back from one: the same rows, the database it replaced set aside", async () => {
    await store.build("beta", "op3", TEMPLATE, async (db) => {
      await db.run("INSERT INTO roles (id, name) VALUES ('b1', 'one'), ('b2', 'two')");
    });
    await store.place("beta", "op3");
    const file = join(root, `${kind.replace(/\W/g, "-")}-beta.sqlite`);
    await store.exportTo("beta", file);
    const copy = new Database(file, { readonly: true });
    expect(copy.query("SELECT id FROM roles ORDER BY id").all()).toEqual([{ id: "b1" }, { id: "b2" }]);
    expect(copy.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'roles_name'").get()).toEqual({ name: "roles_name" });
    copy.close();
    await store.use("beta", (db) => db.run("DELETE FROM roles"));
    const aside = await store.trashName("beta", "20261208T000003Z");
    await store.placeFrom("beta", file, aside);
    expect(existsSync(file)).toBe(false);
    expect(await roles("beta")).toEqual([{ id: "b1" }, { id: "b2" }]);
    // What was there before is kept, not overwritten: put back, it is the emptied database.
    await store.archive("beta", await store.trashName("beta", "20261208T000004Z"));
    await store.unarchive("beta", aside);
    expect(await roles("beta")).toEqual([]);
  });

  test("a tenant the store does not hold is missing, and an id that cannot be one is refused", async () => {
    await expect(store.use("nobody", (db) => db.get("SELECT 1"))).rejects.toMatchObject({ problem: "missing" });
    await expect(store.use("Bad_Id", (db) => db.get("SELECT 1"))).rejects.toThrow(/refusing/);
  });
});

test("the local-file store's build is a file in .tmp until placed", async () => {
  const dir = join(root, "files-only");
  mkdirSync(dir, { recursive: true });
  const store = new FileTenantStore(dir, new HandlePool({ dir, maxOpen: 2, isValidId: isTenant }), isTenant);
  await store.build("acme", "opx", TEMPLATE, async (db) => void (await db.run("INSERT INTO roles (id, name) VALUES ('r', 'n')")));
  expect(existsSync(store.scratch("acme", "opx"))).toBe(true);
  expect(existsSync(join(dir, "acme.sqlite"))).toBe(false);
  await store.place("acme", "opx");
  expect(existsSync(store.scratch("acme", "opx"))).toBe(false);
  expect(new BunSqlDb(new Database(join(dir, "acme.sqlite"))).engine).toBe("sqlite-file");
});
