import { afterEach, beforeEach, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { connectionSchema, resourceServerSchema, roleSchema } from "@authhero/adapter-interfaces";
import { cpWrites, openFixture, type SyncFixture } from "../../test/sync/fixture.ts";

// Synced copies as AuthHero 9.6.1's SQL adapter reads them (shared/reference/authhero-runtime.md §3:
// which columns it parses, how it turns 0/1 and NULL into values). A copy must read back exactly as
// its control-plane original does, and validate against adapter-interfaces' schemas wherever the
// original does: initMultiTenant zod-parses a child tenant's connections on every login.

type Row = Record<string, unknown>;
const withoutNulls = (r: Row) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null));
const parsed = (v: unknown, empty: unknown) => (typeof v === "string" && v !== "" ? JSON.parse(v) : empty);

/** §3.4: only `options` is parsed; `is_system` becomes true or absent; nulls are removed. */
function readConnection(r: Row): Row {
  const { is_system, ...rest } = withoutNulls(r);
  return { ...rest, options: parsed(r.options, {}), ...(is_system ? { is_system: true } : {}) };
}
/** §3.2: `tenant_id` is stripped, `metadata` parsed when non-empty, no null removal. */
function readRole(r: Row): Row {
  const { tenant_id: _t, is_system, metadata, ...rest } = r;
  return { ...rest, ...(metadata ? { metadata: parsed(metadata, undefined) } : {}), ...(is_system ? { is_system: true } : {}) };
}
/** §3.1: scopes, options and metadata parsed; nulls removed; defaults for the token lifetimes. */
function readResourceServer(r: Row): Row {
  const { is_system, scopes, options, metadata, ...rest } = withoutNulls(r);
  return {
    ...rest,
    scopes: parsed(scopes, []),
    options: parsed(options, {}),
    ...(metadata ? { metadata: parsed(metadata, undefined) } : {}),
    token_lifetime: (r.token_lifetime as number | null) ?? 86400,
    token_lifetime_for_web: (r.token_lifetime_for_web as number | null) ?? 7200,
    ...(is_system ? { is_system: true } : {}),
  };
}

let f: SyncFixture;
beforeEach(async () => {
  f = await openFixture();
  const w = cpWrites(f.authhero);
  w.connection("con_1", "corp-oidc", { client_id: "abc", scope: "openid" });
  w.role("rol_1", "admin");
  w.resourceServer("api_1", "https://api.example.com/", { scopes: [{ value: "read:users", description: "Read users" }] });
  await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
});
afterEach(() => f.close());

const one = (db: Database, sql: string) => db.query(sql).get() as Row;

test.each([
  ["connection", "SELECT * FROM connections WHERE id = 'con_1'", readConnection, connectionSchema],
  ["role", "SELECT * FROM roles WHERE id = 'rol_1'", readRole, roleSchema],
  ["resource server", "SELECT * FROM resource_servers WHERE id = 'api_1'", readResourceServer, resourceServerSchema],
] as const)("a synced %s reads back as its original, and validates where the original does", (_kind, sql, read, schema) => {
  const original = read(one(f.authhero, sql));
  const copy = read(one(f.tenantFile("acme"), sql));
  const { tenant_id: _a, is_system: _b, ...originalFields } = original;
  const { tenant_id: _c, is_system: copySystem, ...copyFields } = copy;
  expect(copySystem).toBe(true);
  expect(copyFields).toEqual(originalFields);
  // These originals are valid (a connection with metadata would not be, through AuthHero's own reader).
  expect(schema.safeParse(original).success).toBe(true);
  expect(schema.safeParse(copy).success).toBe(true);
});
