import { afterEach, describe, expect, test } from "bun:test";
import { HttpError } from "./http-error.ts";
import { SyncedEntityGuard, type ProtectionCheck } from "./proxy/protect-synced.ts";
import { SYNCED_ENTITIES } from "./synced-entities.ts";
import { cpWrites, openFixture, type SyncFixture } from "../test/sync/fixture.ts";

// The list of synced entities drives the capture triggers, the relay, the guard and the config
// switches: each entity on it must come out of every one of them, whatever is added to it.

let f: SyncFixture;
afterEach(() => f?.close());

type Row = Record<string, unknown>;

/** A control-plane write to each table a synced entity is captured from, naming that entity `id`. */
function writers(f: SyncFixture): Record<string, (id: string) => void> {
  const w = cpWrites(f.authhero);
  return {
    resource_servers: (id) => w.resourceServer(id, `https://${id}.example.com/`),
    roles: (id) => w.role(id, `role ${id}`),
    role_permissions: (id) => w.permission(id, "https://api.example.com/", `read:${id}`),
    connections: (id) => w.connection(id, `connection ${id}`, {}),
  };
}

function writerFor(f: SyncFixture, table: string): (id: string) => void {
  const write = writers(f)[table];
  if (!write) throw new Error(`this test has no control-plane write for table "${table}": add one`);
  return write;
}

const idOf = (kind: string) => `${kind}_1`;

async function refusal(check: Promise<void>): Promise<HttpError | undefined> {
  try {
    await check;
    return undefined;
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
}

const write = (method: string, segments: string[], body: unknown = {}): ProtectionCheck => ({ methods: new Set([method]), readings: [segments], body: async () => body });

test("there is something to sync, and each kind, collection and switch is named once", async () => {
  expect(SYNCED_ENTITIES.length).toBeGreaterThan(0);
  for (const field of ["kind", "table", "collection"] as const) {
    const names = SYNCED_ENTITIES.map((e) => e[field]);
    expect(new Set(names).size).toBe(names.length);
  }
  const switches = SYNCED_ENTITIES.map((e) => e.syncSwitch.key);
  expect(new Set(switches).size).toBe(switches.length);
});

describe.each(SYNCED_ENTITIES.map((e) => [e.kind, e] as const))("%s", (kind, entity) => {
  test("every table it is captured from has its triggers, and a write there is a change to it", async () => {
    f = await openFixture();
    const triggers = new Set((f.authhero.query("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() as { name: string }[]).map((r) => r.name));
    expect(entity.capturedFrom.map((c) => c.table)).toContain(entity.table);
    for (const { table } of entity.capturedFrom) {
      for (const op of ["insert", "update", "delete"]) expect(triggers).toContain(`tenantgate_${table}_${op}`);
      const start = await f.relay.head();
      writerFor(f, table)(idOf(kind));
      expect(f.authhero.query("SELECT entity, entity_id, op FROM tenantgate_outbox WHERE seq > ?").all(start)).toEqual([{ entity: kind, entity_id: idOf(kind), op: "insert" }]);
    }
  });

  test("it is copied into a new tenant, and the guard refuses writes to the copy however the path names it", async () => {
    f = await openFixture();
    writerFor(f, entity.table)(idOf(kind));
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const copy = f.tenantFile("acme").query(`SELECT * FROM ${entity.table} WHERE id = ?`).get(idOf(kind)) as Row | null;
    expect(copy).toMatchObject({ tenant_id: "acme", is_system: 1 });

    const guard = new SyncedEntityGuard(f.store);
    for (const column of entity.addressedBy) {
      for (const method of ["PATCH", "PUT", "DELETE"]) {
        const refused = await refusal(guard.check("acme", write(method, [entity.collection, String(copy?.[column])])));
        expect(refused?.status).toBe(403);
        expect(refused?.message).toStartWith(`${entity.noun} "${copy?.name}" (${idOf(kind)}) is synced from the control plane`);
      }
    }
    for (const sub of entity.writableSubpaths) expect(await refusal(guard.check("acme", write("POST", [entity.collection, idOf(kind), sub])))).toBeUndefined();
    expect((await refusal(guard.check("acme", write("POST", [entity.collection, idOf(kind), "anything-else"]))))?.status).toBe(403);

    // A tenant's own entity may not take the copy's key, created or renamed.
    const key = { [entity.uniqueKey]: copy?.[entity.uniqueKey] };
    expect((await refusal(guard.check("acme", write("POST", [entity.collection], key))))?.status).toBe(409);
    for (const method of ["PATCH", "PUT"]) expect((await refusal(guard.check("acme", write(method, [entity.collection, "own_1"], key))))?.status).toBe(409);
    expect(await refusal(guard.check("acme", write("PATCH", [entity.collection, "own_1"], { [entity.uniqueKey]: "another" })))).toBeUndefined();
  });

  test(`--no-${entity.syncSwitch.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} leaves it, and only it, out of tenants`, async () => {
    const flag = `--no-${entity.syncSwitch.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    f = await openFixture([flag]);
    expect(f.config[entity.syncSwitch.key]).toBe(false);
    for (const other of SYNCED_ENTITIES) writerFor(f, other.table)(idOf(other.kind));
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const acme = f.tenantFile("acme");
    for (const other of SYNCED_ENTITIES) {
      const copies = acme.query(`SELECT id FROM ${other.table} WHERE is_system = 1`).all();
      expect(copies).toEqual(other.kind === kind ? [] : [{ id: idOf(other.kind) }]);
    }
  });
});

test("the guard looks only at the synced entities' collections", async () => {
  f = await openFixture();
  await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
  const guard = new SyncedEntityGuard(f.store);
  // A collection that is no synced entity's is not looked up (nor is a name an object happens to have).
  for (const collection of ["clients", "users", "constructor", "__proto__", "tostring"]) {
    expect(await refusal(guard.check("acme", write("DELETE", [collection, "x"])))).toBeUndefined();
    expect(await refusal(guard.check("acme", write("POST", [collection], { name: "x", identifier: "x" })))).toBeUndefined();
  }
});

test("a tenant the store cannot open fails closed: writes to a synced collection are refused (503) naming it", async () => {
  f = await openFixture();
  const guard = new SyncedEntityGuard(f.store);
  for (const entity of SYNCED_ENTITIES) {
    const refused = await refusal(guard.check("ghost", write("DELETE", [entity.collection, idOf(entity.kind)])));
    expect(refused?.status).toBe(503);
    expect(refused?.message).toStartWith('cannot check tenant "ghost" for synced entities');
  }
});
