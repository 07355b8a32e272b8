import type { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Elysia } from "elysia";
import pino from "pino";
import { effectiveSettingsApi, errorHandling, ManagementCors } from "../../src/api/index.ts";
import type { Principal } from "../../src/auth/index.ts";
import { HttpError } from "../../src/http-error.ts";
import { SyncedEntityGuard } from "../../src/proxy/index.ts";
import type { ProtectionCheck } from "../../src/proxy/protect-synced.ts";
import { TenantFileError, type SqlDb, type TenantAccess } from "../../src/storage/files.ts";
import { isNotFound, LibsqlDb, SqldAdmin } from "../../src/storage/libsql.ts";
import { SYNCED_ENTITIES } from "../../src/synced-entities.ts";
import { EXTRA_TABLES } from "../authhero/sqlite-adapters.ts";
import { startSqld, type Sqld } from "../support/sqld.ts";
import { cpWrites, openFixture, tenantWrites, type SyncFixture } from "../sync/fixture.ts";

// The request path's reads (the synced-entity guard, effective settings, the gateway's CORS) give
// the same answers whether the control plane and a tenant are local files or namespaces of a real
// sqld: the same data is put in both, the same questions asked of both, and the answers compared.

const APP = "https://app.acme.test";
let sqld: Sqld;
let f: SyncFixture;
/** The control plane and acme as namespaces of the server, copied from their files. */
let cpNamespace: SqlDb;
let namespaces: Pick<TenantAccess, "use">;

beforeAll(async () => {
  f = await openFixture();
  const cp = cpWrites(f.authhero);
  cp.resourceServer("api_1", "https://api.example.com/");
  cp.role("rol_1", "admin");
  cp.connection("con_cp", "shared-oidc", { client_id: "cp-client", client_secret: "s3cret", scope: "openid" });
  f.authhero.exec(EXTRA_TABLES);
  f.authhero.query("INSERT INTO email_providers (tenant_id, name, credentials, created_at, updated_at) VALUES ('control_plane', 'mailgun', ?, '', '')").run(JSON.stringify({ api_key: "key-123" }));
  await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
  const acme = f.tenantFile("acme");
  // The stand-in's clients table has AuthHero's created_at: CORS reads the newest.
  acme.exec(EXTRA_TABLES);
  tenantWrites(acme, "acme").role("rol_own", "acme-only");
  acme.query("INSERT INTO connections (id, tenant_id, name, strategy, options, is_system, created_at, updated_at) VALUES ('con_acme', 'acme', 'acme-oidc', 'oidc', ?, 0, '', '')").run(JSON.stringify({ scope: "openid email", prompt: "login" }));
  acme.query("INSERT INTO clients (client_id, tenant_id, name, web_origins) VALUES ('web', 'acme', 'Web', ?)").run(JSON.stringify([APP]));

  sqld = await startSqld();
  const admin = new SqldAdmin(sqld.adminUrl);
  const nsOf: Record<string, string> = { control_plane: "cp", acme: "acme" };
  for (const [id, ns] of Object.entries(nsOf)) {
    await admin.create(ns);
    await copyInto(id === "acme" ? acme : f.authhero, new LibsqlDb({ url: sqld.url }, ns));
  }
  cpNamespace = new LibsqlDb({ url: sqld.url }, "cp");
  // The tiny namespace store: a tenant is the namespace of its name; one the server lacks is missing.
  namespaces = {
    async use(id, fn) {
      const db = new LibsqlDb({ url: sqld.url }, nsOf[id] ?? id, null);
      try {
        return await fn(db);
      } catch (err) {
        throw isNotFound(err) ? new TenantFileError(id, "missing", (err as Error).message, err) : err;
      } finally {
        db.close();
      }
    },
  };
});
afterAll(async () => {
  cpNamespace?.close();
  f?.close();
  await sqld?.dispose();
});

/** A file's tables, indexes and rows into a namespace (its triggers left out: nothing here writes through them). */
async function copyInto(file: Database, ns: SqlDb): Promise<void> {
  const schema = file.query("SELECT sql FROM sqlite_master WHERE type IN ('table', 'index') AND sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type = 'index'").all() as { sql: string }[];
  await ns.script(schema.map((s) => s.sql).join(";\n"));
  const tables = file.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
  for (const { name } of tables) {
    const rows = file.query(`SELECT * FROM "${name}"`).all() as Record<string, never>[];
    await ns.batch(rows.map((row) => ({ sql: `INSERT INTO "${name}" (${Object.keys(row).map((c) => `"${c}"`).join(", ")}) VALUES (${Object.keys(row).map(() => "?").join(", ")})`, args: Object.values(row) })));
  }
}

const write = (method: string, segments: string[], body: unknown = {}): ProtectionCheck => ({ methods: new Set([method]), readings: [segments], body: async () => body });

/** What the guard says to each write: passed, or the refusal's status and words (a 503's cause is the engine's own). */
async function guardAnswers(store: Pick<TenantAccess, "use">): Promise<string[]> {
  const guard = new SyncedEntityGuard(store);
  const asks: [string, ProtectionCheck][] = [];
  const acme = f.tenantFile("acme");
  for (const entity of SYNCED_ENTITIES) {
    const copy = acme.query(`SELECT * FROM ${entity.table} WHERE is_system = 1 LIMIT 1`).get() as Record<string, string>;
    for (const column of entity.addressedBy) asks.push(["acme", write("PATCH", [entity.collection, copy[column] as string])]);
    for (const sub of entity.writableSubpaths) asks.push(["acme", write("POST", [entity.collection, copy.id as string, sub])]);
    asks.push(["acme", write("POST", [entity.collection], { [entity.uniqueKey]: copy[entity.uniqueKey] })]);
    asks.push(["acme", write("PATCH", [entity.collection, "own_1"], { [entity.uniqueKey]: "another" })]);
    asks.push(["ghost", write("DELETE", [entity.collection, copy.id as string])]);
  }
  const answers: string[] = [];
  for (const [tenant, ask] of asks) {
    try {
      await guard.check(tenant, ask);
      answers.push("passed");
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      answers.push(`${err.status} ${err.status === 503 ? err.message.replace(/ \(.*\);/, ";") : err.message}`);
    }
  }
  return answers;
}

test("the synced-entity guard answers every write alike on a file and on a namespace", async () => {
  const onFile = await guardAnswers(f.store);
  expect(onFile.filter((a) => a.startsWith("403"))).toHaveLength(SYNCED_ENTITIES.reduce((n, e) => n + e.addressedBy.length, 0));
  expect(onFile.filter((a) => a.startsWith("409"))).toHaveLength(SYNCED_ENTITIES.length);
  expect(onFile.filter((a) => a.startsWith("503"))).toEqual(Array(SYNCED_ENTITIES.length).fill('503 cannot check tenant "ghost" for synced entities; the write is refused'));
  expect(onFile).toContain("passed");
  expect(await guardAnswers(namespaces)).toEqual(onFile);
});

const admin: Principal = { subject: "admin", tenant: "control_plane", via: "control-plane", controlPlane: "control_plane", permissions: new Set(["read:tenants"]), isUser: false, claims: {} };

async function effectiveSettings(cp: { id: string; sql: SqlDb }, store: Pick<TenantAccess, "use">, tenant: string): Promise<{ status: number; body: unknown }> {
  const app = new Elysia()
    .use(errorHandling(pino({ level: "silent" })))
    .use(effectiveSettingsApi({ cp, store, secretKeys: f.config.api.syncSecretKeys, authenticate: async () => admin }));
  const res = await app.handle(new Request(`http://localhost/api/v2/tenants/${tenant}/effective-settings`));
  return { status: res.status, body: await res.json() };
}

test("effective settings are the same whether the control plane and the tenant are files or namespaces", async () => {
  for (const tenant of ["acme", "ghost"]) {
    const onFile = await effectiveSettings(f.cp, f.store, tenant);
    expect(await effectiveSettings({ id: "control_plane", sql: cpNamespace }, namespaces, tenant)).toEqual(onFile);
  }
  const acme = (await effectiveSettings(f.cp, f.store, "acme")) as { status: number; body: { connections: { id: string; inherits_from: string | null }[]; email_provider: { origin: string } } };
  expect(acme.status).toBe(200);
  expect(acme.body.connections.find((c) => c.id === "con_acme")?.inherits_from).toBe("con_cp");
  expect(acme.body.email_provider.origin).toBe("inherited");
  expect(JSON.stringify(acme.body)).not.toContain("s3cret");
});

test("the gateway's CORS allows the same origins from a tenant's clients on either engine", async () => {
  const answers = async (use: TenantAccess["use"]) => {
    const cors = new ManagementCors([], use);
    const out: (string | null)[] = [];
    for (const [origin, tenant] of [[APP, "acme"], ["https://evil.example", "acme"], [APP, "ghost"], [APP, "control_plane"]] as const) {
      out.push((await cors.apply(new Response(null), origin, tenant)).headers.get("access-control-allow-origin"));
    }
    return out;
  };
  const onFile = await answers((id, read) => (id === f.cp.id ? read(f.cp.sql) : f.store.use(id, read)));
  expect(onFile).toEqual([APP, null, null, null]);
  expect(await answers(namespaces.use)).toEqual(onFile);
});
