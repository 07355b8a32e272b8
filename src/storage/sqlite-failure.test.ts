import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sqliteFailure } from "./sqlite-failure.ts";
import { HandlePool, TenantFileError } from "./pool.ts";
import { isTenantLabel } from "../tenancy/tenant-id.ts";

// SQLite's failures classified by the code bun:sqlite gives them, with real files.

const dir = mkdtempSync(join(tmpdir(), "sqlite-failure-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function failureOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a failure");
}

const open = (name: string) => new Database(join(dir, name), { create: false, readwrite: true, strict: true });

test("a file that is not there cannot be opened: missing", () => {
  expect(sqliteFailure(failureOf(() => open("nowhere.sqlite")))).toBe("missing");
});

test("a file that is not a database, and one whose pages are damaged: corrupt", () => {
  writeFileSync(join(dir, "junk.sqlite"), "garbage, not a database".repeat(100));
  expect(sqliteFailure(failureOf(() => open("junk.sqlite").query("SELECT count(*) FROM sqlite_master").get()))).toBe("corrupt");

  const good = new Database(join(dir, "good.sqlite"), { create: true });
  good.exec("CREATE TABLE t (x TEXT)");
  for (let i = 0; i < 500; i++) good.query("INSERT INTO t VALUES (?)").run("x".repeat(100));
  good.close();
  const bytes = readFileSync(join(dir, "good.sqlite"));
  for (let i = 100; i < 4096; i++) bytes[i] = 0xab;
  writeFileSync(join(dir, "damaged.sqlite"), bytes);
  expect(sqliteFailure(failureOf(() => open("damaged.sqlite").query("SELECT count(*) FROM t").get()))).toBe("corrupt");
});

test("a lock another connection holds: busy", () => {
  const holder = new Database(join(dir, "busy.sqlite"), { create: true });
  holder.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (x)");
  holder.exec("BEGIN IMMEDIATE");
  const waiter = open("busy.sqlite");
  waiter.exec("PRAGMA busy_timeout = 10");
  try {
    expect(sqliteFailure(failureOf(() => waiter.exec("BEGIN IMMEDIATE")))).toBe("busy");
  } finally {
    holder.exec("ROLLBACK");
    holder.close();
    waiter.close();
  }
});

test("a name the file's schema lacks: schema; other SQLite errors: other", () => {
  const db = new Database(":memory:");
  db.exec("CREATE TABLE t (x UNIQUE)");
  expect(sqliteFailure(failureOf(() => db.query("SELECT * FROM nope").all()))).toBe("schema");
  expect(sqliteFailure(failureOf(() => db.query("SELECT nope FROM t").all()))).toBe("schema");
  expect(sqliteFailure(failureOf(() => db.query("INSERT INTO t (nope) VALUES (1)").run()))).toBe("schema");
  db.exec("INSERT INTO t VALUES (1)");
  expect(sqliteFailure(failureOf(() => db.exec("INSERT INTO t VALUES (1)")))).toBe("other");
  expect(sqliteFailure(failureOf(() => db.exec("THIS IS NOT SQL")))).toBe("other");
});

test("the code decides, not the words: extended codes count as their primary, a message alone as nothing", () => {
  // As a fan-out worker's failure comes back: a plain Error carrying the code.
  const copied = (code: string, message = "x") => Object.assign(new Error(message), { code });
  expect(sqliteFailure(copied("SQLITE_BUSY_SNAPSHOT"))).toBe("busy");
  expect(sqliteFailure(copied("SQLITE_LOCKED_SHAREDCACHE"))).toBe("busy");
  expect(sqliteFailure(copied("SQLITE_CORRUPT_INDEX"))).toBe("corrupt");
  expect(sqliteFailure(copied("SQLITE_CANTOPEN_ISDIR"))).toBe("missing");
  expect(sqliteFailure(copied("SQLITE_IOERR_READ", "database is locked"))).toBe("other");
  expect(sqliteFailure(new Error("database is locked"))).toBe("other");
  expect(sqliteFailure(copied("ENOENT", "no such file"))).toBe("other");
  expect(sqliteFailure("not an error")).toBe("other");
});

test("a tenant file the pool cannot open is classified by SQLite's error inside it", () => {
  const pool = new HandlePool({ dir, maxOpen: 2, isValidId: isTenantLabel });
  writeFileSync(join(dir, "spoiled.sqlite"), "garbage, not a database".repeat(100));
  const missing = failureOf(() => pool.get("gone"));
  const spoiled = failureOf(() => pool.get("spoiled"));
  expect(missing).toBeInstanceOf(TenantFileError);
  expect((missing as TenantFileError).problem).toBe("missing");
  expect(sqliteFailure(missing)).toBe("missing");
  expect((spoiled as TenantFileError).problem).toBe("unreadable");
  expect(sqliteFailure(spoiled)).toBe("corrupt");
});
