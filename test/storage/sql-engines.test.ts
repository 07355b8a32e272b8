import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LibsqlDb, NamespaceMissing, SqldAdmin } from "../../src/storage/libsql.ts";
import { BunSqlDb, type SqlDb } from "../../src/storage/sql.ts";
import { startSqld, type Sqld } from "../support/sqld.ts";

// The SqlDb contract, run on both engines: a local SQLite file (bun:sqlite) and a namespace of a
// real sqld started here. What one engine does, the other must do the same way.

let sqld: Sqld;
let admin: SqldAdmin;
let dir: string;
let n = 0;

beforeAll(async () => {
  sqld = await startSqld();
  admin = new SqldAdmin(sqld.adminUrl);
  dir = mkdtempSync(join(tmpdir(), "tenantgate-sql-"));
});
afterAll(async () => {
  await sqld?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Each engine as a way to open connections to one new database of its own. */
const engines: Record<string, () => Promise<() => SqlDb>> = {
  "a local file": async () => {
    const path = join(dir, `db${++n}.sqlite`);
    return () => {
      const db = new Database(path, { create: true, strict: true });
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA busy_timeout = 5000");
      return new BunSqlDb(db);
    };
  },
  "a sqld namespace": async () => {
    const ns = `ns${++n}`;
    expect(await admin.create(ns)).toBe(true);
    return () => new LibsqlDb({ url: sqld.url }, ns);
  },
};

describe.each(Object.keys(engines))("SqlDb on %s", (engine) => {
  let db: SqlDb;
  let connect: () => SqlDb;
  beforeAll(async () => {
    connect = await (engines[engine] as () => Promise<() => SqlDb>)();
    db = connect();
    await db.script("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER); CREATE TABLE log (line TEXT)");
  });
  afterAll(() => db?.close());

  test("statements: rows as plain objects, changed rows counted, undefined for no row", async () => {
    expect(await db.run("INSERT INTO t (id, name, n) VALUES (?, ?, ?), (?, ?, ?)", [1, "a", 10, 2, "b", null])).toBe(2);
    expect(await db.all("SELECT id, name, n FROM t ORDER BY id")).toEqual([
      { id: 1, name: "a", n: 10 },
      { id: 2, name: "b", n: null },
    ]);
    expect(await db.get("SELECT name FROM t WHERE id = ?", [2])).toEqual({ name: "b" });
    expect(await db.get("SELECT name FROM t WHERE id = ?", [99])).toBeUndefined();
    expect(await db.run("UPDATE t SET n = n + 1 WHERE n IS NOT NULL")).toBe(1);
    expect(await db.values("SELECT n, name, id FROM t ORDER BY id")).toEqual([
      [11, "a", 1],
      [null, "b", 2],
    ]);
    expect(await db.transaction((tx) => tx.values("SELECT name FROM t WHERE id = 1"))).toEqual([["a"]]);
  });

  test("a batch is all or nothing", async () => {
    expect(await db.batch([{ sql: "INSERT INTO t (id, name) VALUES (3, 'c')" }, { sql: "INSERT INTO log VALUES (?)", args: ["c"] }])).toEqual([1, 1]);
    await expect(db.batch([{ sql: "INSERT INTO t (id, name) VALUES (4, 'd')" }, { sql: "INSERT INTO t (id, name) VALUES (5, 'a')" }])).rejects.toThrow(/UNIQUE/);
    expect(await db.get("SELECT id FROM t WHERE id = 4")).toBeUndefined();
  });

  test("a transaction commits what its callback did, and rolls it all back when the callback throws", async () => {
    const seen = await db.transaction(async (tx) => {
      await tx.run("INSERT INTO t (id, name) VALUES (6, 'f')");
      return (await tx.get<{ c: number }>("SELECT count(*) AS c FROM t WHERE id = 6"))?.c;
    });
    expect(seen).toBe(1);
    await expect(
      db.transaction(async (tx) => {
        await tx.run("INSERT INTO t (id, name) VALUES (7, 'g')");
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    expect(await db.all("SELECT id FROM t WHERE id IN (6, 7)")).toEqual([{ id: 6 }]);
  });

  test("what others do meanwhile never lands inside a transaction", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const tx = db.transaction(async (t) => {
      await t.run("INSERT INTO log VALUES ('in tx')");
      await held;
      throw new Error("roll back");
    });
    // A write from outside while the transaction is open: it must not be rolled back with it.
    const outside = db.run("INSERT INTO log VALUES ('outside')");
    await Bun.sleep(20);
    release();
    await expect(tx).rejects.toThrow("roll back");
    expect(await outside).toBe(1);
    expect((await db.all<{ line: string }>("SELECT line FROM log WHERE line IN ('in tx', 'outside')")).map((r) => r.line)).toEqual(["outside"]);
  });

  test("a snapshot sees one state of the database: what another connection commits meanwhile is not in it, and is there after", async () => {
    await db.run("CREATE TABLE snap (v INTEGER)");
    await db.run("INSERT INTO snap VALUES (1)");
    const other = connect();
    try {
      const seen = await db.snapshot(async (r) => {
        const before = await r.all<{ v: number }>("SELECT v FROM snap");
        expect(await other.run("INSERT INTO snap VALUES (2)")).toBe(1);
        const after = await r.all<{ v: number }>("SELECT v FROM snap");
        return { before, after, count: await r.get<{ c: number }>("SELECT count(*) AS c FROM snap") };
      });
      expect(seen).toEqual({ before: [{ v: 1 }], after: [{ v: 1 }], count: { c: 1 } });
      expect(await db.all("SELECT v FROM snap ORDER BY v")).toEqual([{ v: 1 }, { v: 2 }]);
    } finally {
      other.close();
    }
  });

  test("a write through the same SqlDb during a snapshot is not seen inside it, and a snapshot that throws leaves the database usable", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const reading = db.snapshot(async (r) => {
      const first = await r.get<{ c: number }>("SELECT count(*) AS c FROM log");
      await held;
      return [first, await r.get<{ c: number }>("SELECT count(*) AS c FROM log")];
    });
    const write = db.run("INSERT INTO log VALUES ('during a snapshot')");
    await Bun.sleep(20);
    release();
    const [first, second] = await reading;
    expect(second).toEqual(first);
    expect(await write).toBe(1);
    await expect(db.snapshot(async () => Promise.reject(new Error("read no further")))).rejects.toThrow("read no further");
    expect(await db.get("SELECT line FROM log WHERE line = 'during a snapshot'")).toEqual({ line: "during a snapshot" });
  });

  test("a script runs every statement", async () => {
    await db.script("CREATE TABLE s1 (a); CREATE TABLE s2 (b); INSERT INTO s1 VALUES (1)");
    expect(await db.all("SELECT a FROM s1")).toEqual([{ a: 1 }]);
  });
});

describe("libSQL namespaces", () => {
  test("a namespace the server lacks is NamespaceMissing, at once when it is not known to exist", async () => {
    const ghost = new LibsqlDb({ url: sqld.url }, "ghost", null);
    await expect(ghost.all("SELECT 1")).rejects.toBeInstanceOf(NamespaceMissing);
    expect(await admin.exists("ghost")).toBe(false);
    expect(await admin.remove("ghost")).toBe(false);
  });

  test("made, forked with its data, removed", async () => {
    expect(await admin.create("tmpl")).toBe(true);
    expect(await admin.create("tmpl")).toBe(false);
    const tmpl = new LibsqlDb({ url: sqld.url }, "tmpl");
    await tmpl.script("CREATE TABLE x (v); INSERT INTO x VALUES ('from the template')");
    await admin.fork("tmpl", "copy");
    const copy = new LibsqlDb({ url: sqld.url }, "copy");
    expect(await copy.all("SELECT v FROM x")).toEqual([{ v: "from the template" }]);
    expect(await admin.exists("copy")).toBe(true);
    expect(await admin.remove("copy")).toBe(true);
    expect(await admin.exists("copy")).toBe(false);
  });
});

describe("sqld's eviction and crashes", () => {
  test("with fewer active namespaces allowed than exist, every read of an existing one is answered (its 404s are retried)", async () => {
    const small = await startSqld({ maxActiveNamespaces: 3 });
    try {
      const a = new SqldAdmin(small.adminUrl);
      const dbs: LibsqlDb[] = [];
      for (let i = 0; i < 12; i++) {
        await a.create(`e${i}`);
        const db = new LibsqlDb({ url: small.url }, `e${i}`);
        await db.script(`CREATE TABLE v (i); INSERT INTO v VALUES (${i})`);
        dbs.push(db);
      }
      for (let round = 0; round < 5; round++) {
        const got = await Promise.all(dbs.map((db) => db.get<{ i: number }>("SELECT i FROM v")));
        expect(got.map((r) => r?.i)).toEqual(dbs.map((_, i) => i));
      }
    } finally {
      await small.dispose();
    }
  });

  test("killed with SIGKILL: calls fail meanwhile, every acknowledged write is there after a restart, and the same client goes on", async () => {
    const crashy = await startSqld();
    try {
      const a = new SqldAdmin(crashy.adminUrl);
      await a.create("w");
      const db = new LibsqlDb({ url: crashy.url }, "w");
      await db.script("CREATE TABLE acked (i INTEGER PRIMARY KEY)");
      let acked = 0;
      const writer = (async () => {
        for (let i = 1; i <= 400; i++) {
          try {
            await db.run("INSERT INTO acked VALUES (?)", [i]);
            acked = i;
          } catch {
            return;
          }
        }
      })();
      while (acked < 50) await Bun.sleep(5);
      await crashy.kill();
      await writer;
      const lastAcked = acked;
      await expect(db.all("SELECT 1")).rejects.toThrow();
      await crashy.restart();
      const rows = await db.all<{ i: number }>("SELECT i FROM acked ORDER BY i");
      expect(rows.length).toBeGreaterThanOrEqual(lastAcked);
      expect(rows.slice(0, lastAcked).map((r) => r.i)).toEqual(Array.from({ length: lastAcked }, (_, i) => i + 1));
    } finally {
      await crashy.dispose();
    }
  });
});
