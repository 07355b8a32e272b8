import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import fc from "fast-check";
import { join } from "node:path";
import { BunSqlDb } from "../storage/sql.ts";
import { applyStates, cursorOf } from "./apply.ts";
import { applyStatesInOneBatch } from "./apply-batch.ts";
import { readStates, type EntityState } from "./entities.ts";
import { syncRules } from "./index.ts";
import { cpWrites, openFixture, type SyncFixture } from "../../test/sync/fixture.ts";

// The one-batch apply (for a database across a network) and the usual one must leave a tenant's
// database the same: the same plans, made of random control-plane changes and the tenant's own
// entities in the way, go through both, each into its own copy of one tenant database, and the
// copies and the answers are compared after every apply.

let f: SyncFixture | undefined;
afterEach(() => f?.close());

const IDS = ["a", "b", "c"];
const NAMES = ["n1", "n2", "n3"];
const KINDS = ["role", "resource_server", "connection"] as const;

type Step =
  | { op: "put"; kind: (typeof KINDS)[number]; id: string; name: string; perms: number }
  | { op: "drop"; kind: (typeof KINDS)[number]; id: string }
  | { op: "own"; kind: "role" | "resource_server"; id: string; name: string };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant("put" as const), kind: fc.constantFrom(...KINDS), id: fc.constantFrom(...IDS), name: fc.constantFrom(...NAMES), perms: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ op: fc.constant("drop" as const), kind: fc.constantFrom(...KINDS), id: fc.constantFrom(...IDS) }),
  fc.record({ op: fc.constant("own" as const), kind: fc.constantFrom("role" as const, "resource_server" as const), id: fc.constantFrom("a", "own1", "own2"), name: fc.constantFrom(...NAMES) }),
);

const TABLE: Record<(typeof KINDS)[number], string> = { role: "roles", resource_server: "resource_servers", connection: "connections" };

function dump(db: Database): unknown {
  const rows = (sql: string) => db.query(sql).all();
  return {
    roles: rows("SELECT * FROM roles ORDER BY id"),
    permissions: rows("SELECT role_id, resource_server_identifier, permission_name, created_at FROM role_permissions ORDER BY role_id, resource_server_identifier, permission_name"),
    resourceServers: rows("SELECT * FROM resource_servers ORDER BY id"),
    connections: rows("SELECT * FROM connections ORDER BY id"),
    conflicts: rows("SELECT entity, entity_id, key_value, tenant_entity_id FROM tenantgate_sync_conflicts ORDER BY entity, entity_id"),
    cursor: rows("SELECT cursor FROM tenantgate_sync"),
  };
}

test("the one-batch apply leaves a tenant's database as the usual apply does, and answers the same", async () => {
  f = await openFixture();
  const fx = f;
  await fx.lifecycle.create({ id: "acme", friendly_name: "Acme" });
  const rules = syncRules(fx.config);
  const source = fx.tenantFile("acme");
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(step, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }), async (batches) => {
      // Two copies of the tenant's database as it is now, and a control plane of its own for this run.
      run++;
      const paths = ["usual", "batch"].map((name) => join(fx.dataDir, `${name}-${run}.sqlite`));
      for (const path of paths) source.query("VACUUM INTO ?").run(path);
      const [usual, batch] = paths.map((p) => new Database(p)) as [Database, Database];
      const cp = new Database(":memory:");
      const schema = fx.authhero.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN ('roles', 'role_permissions', 'resource_servers', 'connections')").all() as { sql: string }[];
      for (const { sql } of schema) cp.exec(sql);
      const writes = cpWrites(cp);
      let seq = (await cursorOf(new BunSqlDb(usual))) + 1;
      try {
        for (const steps of batches) {
          const touched: { kind: (typeof KINDS)[number]; id: string }[] = [];
          for (const s of steps) {
            if (s.op === "own") {
              for (const db of [usual, batch]) {
                if (db.query(`SELECT 1 FROM ${TABLE[s.kind]} WHERE id = ?`).get(s.id)) continue;
                // The same row in both copies (the fixture's writers would stamp each with its own time).
                if (s.kind === "role") db.query("INSERT OR IGNORE INTO roles (id, tenant_id, name, is_system, created_at, updated_at) VALUES (?, 'acme', ?, 0, 't', 't')").run(s.id, s.name);
                else db.query("INSERT OR IGNORE INTO resource_servers (id, tenant_id, identifier, name, is_system, created_at, updated_at) VALUES (?, 'acme', ?, 'own', 0, 't', 't')").run(s.id, s.name);
              }
              continue;
            }
            cp.query(`DELETE FROM ${TABLE[s.kind]} WHERE id = ?`).run(s.id);
            if (s.kind === "role") cp.query("DELETE FROM role_permissions WHERE role_id = ?").run(s.id);
            if (s.op === "put") {
              if (s.kind === "role") {
                writes.role(s.id, s.name);
                for (let p = 0; p < s.perms; p++) writes.permission(s.id, "urn:api", `p${p}`);
              } else if (s.kind === "resource_server") writes.resourceServer(s.id, s.name);
              else writes.connection(s.id, s.name, { scope: "openid" });
            }
            touched.push({ kind: s.kind, id: s.id });
          }
          // Each entity once, as the relay's plan lists what a span of events touched.
          const once = [...new Map(touched.map((t) => [`${t.kind}:${t.id}`, t])).values()];
          const states: EntityState[] = await readStates(new BunSqlDb(cp), once, rules);
          const from = (await cursorOf(new BunSqlDb(usual)));
          const expected = await applyStates(new BunSqlDb(usual), "acme", states, seq, rules);
          const got = await applyStatesInOneBatch(new BunSqlDb(batch), "acme", states, from, seq, rules);
          expect(got).toEqual(expected);
          expect(dump(batch)).toEqual(dump(usual));
          seq++;
        }
        // A cursor that moved meanwhile: the batch writes nothing and says so.
        expect(await applyStatesInOneBatch(new BunSqlDb(batch), "acme", [], seq - 99, seq, rules)).toBeUndefined();
        expect(dump(batch)).toEqual(dump(usual));
      } finally {
        usual.close();
        batch.close();
        cp.close();
      }
    }),
    { numRuns: 100 },
  );
}, 60_000);
