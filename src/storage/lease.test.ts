import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { Lease } from "./lease.ts";
import { migrateControlPlane } from "./migrate.ts";
import { BunSqlDb } from "./sql.ts";

function controlPlane(): BunSqlDb {
  const db = new Database(":memory:");
  migrateControlPlane(db);
  return new BunSqlDb(db);
}

test("one holder at a time: taken when free, renewed by its holder, refused to another until it expires", async () => {
  const db = controlPlane();
  const a = new Lease(db, "relay", "a", 1_000);
  const b = new Lease(db, "relay", "b", 1_000);
  expect(await a.acquire(10_000)).toBe(true);
  expect(await b.acquire(10_500)).toBe(false);
  expect(await a.acquire(10_900)).toBe(true); // renewed: now until 11,900
  expect(await b.acquire(11_500)).toBe(false);
  expect(await a.current()).toEqual({ holder: "a", expiresAt: 11_900, grantedAt: 10_000 });
  expect(await b.acquire(12_000)).toBe(true); // a stopped renewing
  expect(await b.current()).toEqual({ holder: "b", expiresAt: 13_000, grantedAt: 12_000 });
  expect(await a.acquire(12_100)).toBe(false);
  await b.release();
  expect(await a.acquire(12_200)).toBe(true);
  await b.release(); // not b's: a keeps it
  expect((await a.current())?.holder).toBe("a");
});

test("a holder this process can see is dead is replaced at once, not after the lease time", async () => {
  const db = controlPlane();
  expect(await new Lease(db, "relay", "gone", 60_000).acquire(0)).toBe(true);
  expect(await new Lease(db, "relay", "me", 60_000).acquire(1)).toBe(false);
  expect(await new Lease(db, "relay", "me", 60_000, (h) => h === "gone").acquire(2)).toBe(true);
});
