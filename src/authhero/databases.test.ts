import { afterEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import type { Connection, DataAdapters } from "@authhero/adapter-interfaces";
import { createTenantFileAdapters, UnknownTenantError, type TenantDatabases } from "./index.ts";
import { sqliteAdapters } from "../../test/authhero/sqlite-adapters.ts";

// The module's tenant databases are a seam, not a file layout: an engine other than the gateway's
// tenant files (a networked one, such as libSQL namespaces) stands in by answering get, ids and
// close. Here: one separate in-memory SQLite database per tenant, none of them a file.
const CONNECTIONS = "CREATE TABLE connections (id TEXT NOT NULL, tenant_id TEXT NOT NULL, name TEXT NOT NULL, strategy TEXT NOT NULL, options TEXT NOT NULL DEFAULT '{}', metadata TEXT, is_system INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (tenant_id, id))";

function namespaces(ids: string[]): TenantDatabases & { db(id: string): Database; closed: Set<string> } {
  const dbs = new Map<string, { db: Database; adapters: DataAdapters }>();
  for (const id of ids) {
    const db = new Database(":memory:");
    db.exec(CONNECTIONS);
    dbs.set(id, { db, adapters: sqliteAdapters(db) });
  }
  const closed = new Set<string>();
  return {
    get: (id) => (typeof id === "string" ? dbs.get(id)?.adapters : undefined),
    ids: () => [...dbs.keys()],
    close: () => {
      for (const [id, { db }] of dbs) {
        db.close();
        closed.add(id);
      }
    },
    db: (id) => dbs.get(id)!.db,
    closed,
  };
}

const conn = (id: string) => ({ id, name: id, strategy: "auth0", options: { v: id } }) as unknown as Connection;
let close: (() => void) | undefined;
afterEach(() => close?.());

test("another engine's databases stand in for the tenant files: calls, lookups by row and transactions reach the right one", async () => {
  const dbs = namespaces(["control_plane", "acme", "beta"]);
  const adapters = createTenantFileAdapters({ controlPlaneTenantId: "control_plane", databases: dbs, fallback: false });
  close = () => adapters.close();
  const a = adapters.dataAdapter;

  await a.connections.create("acme", conn("c-acme"));
  expect(dbs.db("acme").query("SELECT id FROM connections").all()).toEqual([{ id: "c-acme" }]);
  expect(dbs.db("beta").query("SELECT id FROM connections").all()).toEqual([]);

  await a.clients.create("beta", { client_id: "app-beta", name: "B" } as never);
  expect((await a.clients.getByClientId("app-beta"))?.tenant_id).toBe("beta");

  await a.transaction(async (trx) => {
    await trx.connections.create("beta", conn("t1"));
    await trx.connections.create("beta", conn("t2"));
  });
  await expect(
    a.transaction(async (trx) => {
      await trx.connections.create("acme", conn("x1"));
      await trx.connections.create("beta", conn("x2"));
    }),
  ).rejects.toThrow(/acme.*beta/);
  expect((dbs.db("beta").query("SELECT id FROM connections ORDER BY id").all() as { id: string }[]).map((r) => r.id)).toEqual(["t1", "t2"]);
  expect(dbs.db("acme").query("SELECT id FROM connections WHERE id = 'x1'").all()).toEqual([]);

  await expect(a.connections.create("ghost", conn("g"))).rejects.toBeInstanceOf(UnknownTenantError);
  adapters.close();
  close = undefined;
  expect([...dbs.closed].sort()).toEqual(["acme", "beta", "control_plane"]);
});

test("without the control plane's database the module refuses to start, naming it", () => {
  expect(() => createTenantFileAdapters({ controlPlaneTenantId: "control_plane", databases: namespaces(["acme"]) })).toThrow(/no control-plane database for "control_plane" in the given databases/);
});
