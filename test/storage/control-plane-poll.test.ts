import { afterAll, beforeAll, expect, test } from "bun:test";
import pino from "pino";
import { ControlPlanePoll, LibsqlDb, openControlPlaneNamespace, SqldAdmin, type ControlPlane } from "../../src/storage/index.ts";
import { startSqld, type Sqld } from "../support/sqld.ts";

// On a libSQL server, other processes' commits to the control plane are seen by polling it. A
// change to a synced entity (a role AuthHero writes on the control plane) moves only the outbox:
// seen with the real AuthHero 9.6.1 on sqld, such a role reached the tenants 2.8 to 8.5 s later,
// at the relay's 10 s safety-net poll, where the same write on files wakes the relay at once.

let sqld: Sqld;
let cp: ControlPlane;
const log = pino({ level: "silent" });

beforeAll(async () => {
  sqld = await startSqld();
  cp = await openControlPlaneNamespace({ url: sqld.url }, new SqldAdmin(sqld.adminUrl), "control_plane");
});
afterAll(async () => {
  cp?.close();
  await sqld?.dispose();
});

/** What subscribers are told within `ms` of `write`, by another connection to the control plane's namespace. */
async function toldAfter(poll: ControlPlanePoll, write: (other: LibsqlDb) => Promise<unknown>, ms: number): Promise<string[]> {
  const told: string[] = [];
  const unsubscribe = poll.subscribe((news) => told.push(news));
  const unwatch = poll.watch();
  try {
    const other = new LibsqlDb({ url: sqld.url }, "control_plane");
    await write(other);
    other.close();
    await Bun.sleep(ms);
    return told;
  } finally {
    unsubscribe();
    await unwatch();
  }
}

test("a row another process adds to the outbox is news within the poll's interval, and no reason to reload the registry", async () => {
  const poll = await new ControlPlanePoll(cp.sql, log, { everyMs: 100, reloadEveryMs: 60_000 }).prepare();
  const told = await toldAfter(poll, (db) => db.run("INSERT INTO tenantgate_outbox (entity, entity_id, op) VALUES ('role', 'rol_1', 'upsert')"), 400);
  expect(told).toEqual(["outbox"]);
  poll.close();
});

test("a change to the tenants is a commit (the registry reloads); nothing changed, nothing told", async () => {
  const poll = await new ControlPlanePoll(cp.sql, log, { everyMs: 100, reloadEveryMs: 60_000 }).prepare();
  expect(await toldAfter(poll, async () => {}, 300)).toEqual([]);
  const now = new Date().toISOString();
  const told = await toldAfter(poll, (db) => db.run("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES ('acme', 'Acme', ?, ?)", [now, now]), 400);
  expect(told).toEqual(["commit"]);
  poll.close();
});
