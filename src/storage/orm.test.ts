import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { ormOf } from "./orm.ts";
import { BunSqlDb } from "./sql.ts";

const items = sqliteTable("items", { id: text("id").primaryKey(), n: integer("n").notNull(), note: text("note") });

test("drizzle over an SqlDb and over its transaction's writer: rows, one row, none, changes", async () => {
  const sql = new BunSqlDb(new Database(":memory:"));
  await sql.script("CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL, note TEXT)");
  const orm = ormOf(sql);
  await orm.insert(items).values([{ id: "a", n: 1 }, { id: "b", n: 2, note: "x" }]).run();
  expect(await orm.select().from(items).all()).toEqual([{ id: "a", n: 1, note: null }, { id: "b", n: 2, note: "x" }]);
  expect(await orm.select({ n: items.n }).from(items).where(eq(items.id, "b")).get()).toEqual({ n: 2 });
  expect(await orm.select().from(items).where(eq(items.id, "zz")).get()).toBeUndefined();
  await expect(
    sql.transaction(async (tx) => {
      await ormOf(tx).update(items).set({ n: 9 }).where(eq(items.id, "a")).run();
      expect(await ormOf(tx).select({ n: items.n }).from(items).where(eq(items.id, "a")).get()).toEqual({ n: 9 });
      throw new Error("undo");
    }),
  ).rejects.toThrow("undo");
  expect(await orm.select({ n: items.n }).from(items).where(eq(items.id, "a")).get()).toEqual({ n: 1 });
});
