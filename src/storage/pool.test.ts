import { Database } from "bun:sqlite";
import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { handleBudget } from "./descriptors.ts";
import { HandlePool, TenantFileError } from "./pool.ts";
import { isTenantLabel } from "../tenancy/tenant-id.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pool-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const openFds = () => readdirSync("/proc/self/fd").length;

function makeTenantFile(id: string): void {
  const db = new Database(join(dir, `${id}.sqlite`), { create: true });
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER)");
  db.close();
}

const pool = (maxOpen: number) => new HandlePool({ dir, maxOpen, isValidId: isTenantLabel });

test("descriptors stay within the budget across many tenants and are all released on close", () => {
  for (let i = 0; i < 60; i++) makeTenantFile(`t${i}`);
  const before = openFds();
  const p = pool(10);
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 60; i++) {
      const db = p.get(`t${i}`);
      db.query("INSERT INTO t (v) VALUES (?)").run(i);
      db.query("SELECT count(*) FROM t").get();
    }
    expect(p.openCount).toBe(10);
    // Three descriptors per WAL-mode file, and nothing leaked by evicted handles.
    expect(openFds() - before).toBeLessThanOrEqual(10 * 3);
  }
  p.closeAll();
  expect(p.openCount).toBe(0);
  expect(openFds() - before).toBeLessThanOrEqual(0);
  expect(p.totalOpens).toBe(300);
});

test("least recently used is evicted first", () => {
  for (const id of ["a", "b", "c"]) makeTenantFile(id);
  const p = pool(2);
  const a = p.get("a");
  p.get("b");
  expect(p.get("a")).toBe(a); // touch a: b is now oldest
  p.get("c");
  expect(p.get("a")).toBe(a);
  expect(p.totalOpens).toBe(3);
  p.get("b"); // b was evicted, so it is opened again
  expect(p.totalOpens).toBe(4);
  p.closeAll();
});

test("a missing tenant file is reported and never created", () => {
  const p = pool(2);
  const err = (() => {
    try {
      p.get("ghost");
    } catch (e) {
      return e;
    }
  })();
  expect(err).toBeInstanceOf(TenantFileError);
  expect((err as TenantFileError).problem).toBe("missing");
  expect(existsSync(join(dir, "ghost.sqlite"))).toBe(false);
});

test("a file that is not a database is unreadable, not missing", () => {
  writeFileSync(join(dir, "junk.sqlite"), "this is not sqlite, just some text that is long enough to have a header");
  const p = pool(2);
  expect(() => p.get("junk")).toThrow(TenantFileError);
  try {
    p.get("junk");
  } catch (e) {
    expect((e as TenantFileError).problem).toBe("unreadable");
  }
  expect(p.openCount).toBe(0);
});

test("an id that is not a tenant label never becomes a path", () => {
  const p = pool(2);
  for (const bad of ["../x", "a/b", "..", "", "A"]) expect(() => p.get(bad)).toThrow(/refusing to build a path/);
});

test("the handle budget is half the descriptor limit at three descriptors a file, capped by memory", () => {
  expect(handleBudget(1024)).toBe(170);
  expect(handleBudget(65536)).toBe(256);
  expect(handleBudget(10)).toBe(4);
});

test("use holds a handle across awaits: pushed out meanwhile, it is closed when its holder lets go", async () => {
  for (const id of ["a", "b", "c"]) makeTenantFile(id);
  const p = pool(1);
  const before = openFds();
  let release!: () => void;
  const held = p.use("a", async (db) => {
    await new Promise<void>((resolve) => (release = resolve));
    // "b" has pushed "a" out of the pool by now; the held handle still writes and reads.
    await db.run("INSERT INTO t (v) VALUES (?)", [7]);
    return db.get<{ n: number }>("SELECT count(*) AS n FROM t");
  });
  await p.use("b", async (db) => db.run("INSERT INTO t (v) VALUES (1)"));
  expect(p.openIds()).toEqual(["b"]);
  release();
  expect(await held).toEqual({ n: 1 });
  // "a" was closed on release: only "b"'s descriptors are left.
  expect(openFds() - before).toBeLessThanOrEqual(3);
  await expect(p.use("c", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
  await expect(p.use("nope", async () => 1)).rejects.toBeInstanceOf(TenantFileError);
  p.closeAll();
  expect(openFds() - before).toBeLessThanOrEqual(0);
});

test("a tenant file's identity moves when the file is written or replaced and is undefined once it is gone; one SqlDb serves every use of an open handle", async () => {
  makeTenantFile("acme");
  const p = pool(4);
  const first = p.identity("acme");
  expect(first).toBeString();
  expect(p.identity("acme")).toBe(first as string);
  const seen = await p.use("acme", async (db) => {
    await db.run("INSERT INTO t (v) VALUES (1)");
    return db;
  });
  expect(await p.use("acme", async (db) => db)).toBe(seen);
  const written = p.identity("acme");
  expect(written).not.toBe(first as string);
  // Replaced by rename: another inode at the same path.
  const other = join(dir, "other.sqlite");
  const db = new Database(other, { create: true });
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER)");
  db.close();
  renameSync(other, join(dir, "acme.sqlite"));
  expect(p.identity("acme")).not.toBe(written as string);
  expect(p.evictIfReplaced("acme")).toBe(true);
  rmSync(join(dir, "acme.sqlite"));
  expect(p.identity("acme")).toBeUndefined();
  expect(p.identity("../escape")).toBeUndefined();
  expect(p.threads.fileOf("acme")).toBe(join(dir, "acme.sqlite"));
  p.closeAll();
});
