import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { BunSqlDb, type SqlDb } from "../storage/files.ts";
import { ManagementCors } from "./cors.ts";

// The tenant's clients' origins are read once per freshness window, however many answers ask: the
// database behind a tenant may be a server a round trip away (test/api/cors.test.ts has the headers).

const APP = "https://app.acme.test";
let file: Database;
afterEach(() => file?.close());

/** acme's database with one client allowing APP, and a `use` that counts the reads made through it. */
function acme(): { use: <T>(id: string, fn: (db: SqlDb) => Promise<T>) => Promise<T>; reads: () => number } {
  file = new Database(":memory:");
  file.exec("CREATE TABLE clients (client_id TEXT, tenant_id TEXT, web_origins TEXT, created_at TEXT)");
  file.query("INSERT INTO clients VALUES ('web', 'acme', ?, '2026-01-01')").run(JSON.stringify([APP]));
  const db = new BunSqlDb(file);
  let reads = 0;
  return {
    use: (id, fn) => {
      reads++;
      if (id !== "acme") return Promise.reject(new Error(`no tenant "${id}"`));
      return fn(db);
    },
    reads: () => reads,
  };
}

const allowed = async (cors: ManagementCors, origin: string, tenant = "acme") =>
  (await cors.apply(new Response(null), origin, tenant)).headers.get("access-control-allow-origin");

test("many answers at once for one tenant read its clients once; a later one within the window reads nothing", async () => {
  const t = acme();
  const cors = new ManagementCors([], t.use);
  const answers = await Promise.all(Array.from({ length: 50 }, () => allowed(cors, APP)));
  expect(answers).toEqual(Array(50).fill(APP));
  expect(await allowed(cors, "https://evil.example")).toBeNull();
  expect(t.reads()).toBe(1);
});

test("a client's new web origin counts once the window has passed", async () => {
  const t = acme();
  const cors = new ManagementCors([], t.use, 30);
  const LATER = "https://later.acme.test";
  expect(await allowed(cors, LATER)).toBeNull();
  file.query("INSERT INTO clients VALUES ('later', 'acme', ?, '2026-01-02')").run(JSON.stringify([LATER]));
  expect(await allowed(cors, LATER)).toBeNull();
  await Bun.sleep(60);
  expect(await allowed(cors, LATER)).toBe(LATER);
  expect(t.reads()).toBe(2);
});

test("a tenant that cannot be read allows only the configured origins, and is asked again next time", async () => {
  const t = acme();
  const cors = new ManagementCors(["https://admin.example.com"], t.use);
  expect(await allowed(cors, APP, "ghost")).toBeNull();
  expect(await allowed(cors, "https://admin.example.com", "ghost")).toBe("https://admin.example.com");
  expect(await allowed(cors, APP, "ghost")).toBeNull();
  expect(t.reads()).toBe(2);
});
