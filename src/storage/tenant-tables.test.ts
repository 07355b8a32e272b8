import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { getTableConfig } from "drizzle-orm/sqlite-core";
import { ensureTenantTables } from "./tenant-tables.ts";
import { tenantSync, tenantSyncConflicts } from "./tenant-schema.ts";

const columnsOf = (db: Database, table: string) => (db.query(`PRAGMA table_info(${table})`).all() as { name: string; notnull: number; pk: number }[]).map((c) => [c.name, c.notnull, c.pk]);

test("a tenant file gets tenantgate's tables as tenant-schema.ts declares them", () => {
  const db = new Database(":memory:");
  ensureTenantTables(db);
  for (const table of [tenantSync, tenantSyncConflicts]) {
    const config = getTableConfig(table);
    expect(columnsOf(db, config.name).map(([name]) => name)).toEqual(config.columns.map((c) => c.name));
    expect(columnsOf(db, config.name).every(([, notnull, pk]) => notnull === 1 || Number(pk) > 0)).toBe(true);
  }
  db.query("INSERT INTO tenantgate_sync (id, cursor, updated_at) VALUES (1, 5, 'x')").run();
  expect(() => db.query("INSERT INTO tenantgate_sync (id, cursor, updated_at) VALUES (2, 5, 'x')").run()).toThrow(/CHECK/);
  db.query("INSERT INTO tenantgate_sync_conflicts VALUES ('role', 'r1', 'admin', 'r2', 'x')").run();
  expect(() => db.query("INSERT INTO tenantgate_sync_conflicts VALUES ('role', 'r1', 'admin', 'r3', 'x')").run()).toThrow(/UNIQUE/);
});

test("a file whose tables were made before they were generated keeps them and its rows", () => {
  const db = new Database(":memory:");
  // The DDL tenant files were given before tenant-schema.ts existed.
  db.exec(`CREATE TABLE tenantgate_sync (id INTEGER PRIMARY KEY CHECK (id = 1), cursor INTEGER NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE tenantgate_sync_conflicts (entity TEXT NOT NULL, entity_id TEXT NOT NULL, key_value TEXT NOT NULL, tenant_entity_id TEXT NOT NULL, detected_at TEXT NOT NULL, PRIMARY KEY (entity, entity_id));
    INSERT INTO tenantgate_sync VALUES (1, 42, 'then');`);
  ensureTenantTables(db);
  expect(db.query("SELECT cursor FROM tenantgate_sync").get()).toEqual({ cursor: 42 });
  expect(columnsOf(db, "tenantgate_sync").map(([n]) => n)).toEqual(getTableConfig(tenantSync).columns.map((c) => c.name));
});
