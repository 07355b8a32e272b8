// An AuthHero host that keeps each tenant in its own SQLite file, as tenantgate lays them out.
// Run it beside tenantgate on the same data directory: AuthHero on 127.0.0.1:3000, tenantgate in
// front of it (`tenantgate serve --upstream http://127.0.0.1:3000 --data-dir <same dir>`).
//
//   DATA_DIR=./data CONTROL_PLANE_ISSUER=http://localhost:8080/ bun host.ts
// and tenantgate with --issuer http://localhost:8080/ --tenant-issuer "http://{tenant}.localhost:8080/" --preserve-host.
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Kysely } from "kysely";
import { BunSqliteDialect } from "kysely-bun-sqlite";
import createAdapters, { migrateToLatest } from "@authhero/kysely-adapter";
import { ensureSigningKey, init, MANAGEMENT_API_AUDIENCE, MANAGEMENT_API_SCOPES } from "authhero";
import { createTenantFileAdapters, migrateTenantFiles, publicIssuer } from "tenantgate/authhero";

const dataDir = process.env.DATA_DIR ?? "./data";
const controlPlaneTenantId = process.env.CONTROL_PLANE ?? "control_plane";
// The control plane's public URL (tenantgate's base domain); each tenant's is its own host under it.
const controlPlaneIssuer = process.env.CONTROL_PLANE_ISSUER ?? "http://localhost:8080/";
const port = Number(process.env.PORT ?? 3000);

const kysely = (database: Database) => new Kysely<any>({ dialect: new BunSqliteDialect({ database }) });

// 1. A new data directory gets its control-plane file from AuthHero's own migrations (start this
//    host before tenantgate the first time: tenantgate then adds only its own tables to it).
const controlPlaneFile = join(dataDir, "tenants", `${controlPlaneTenantId}.sqlite`);
if (!(await Bun.file(controlPlaneFile).exists())) {
  mkdirSync(join(dataDir, "tenants"), { recursive: true });
  const database = new Database(controlPlaneFile, { create: true });
  database.exec("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;");
  await migrateToLatest(kysely(database));
  const adapters = createAdapters(kysely(database));
  await adapters.tenants.create({ id: controlPlaneTenantId, friendly_name: "Control plane", audience: MANAGEMENT_API_AUDIENCE } as never);
  // The management API on the control plane, with RBAC on as AuthHero's seed makes it (a user's
  // token carries the permissions of the roles the user holds, not whatever scopes it asked for).
  // tenantgate syncs it into every tenant; a new tenant's "API Explorer Application" is granted its
  // scopes, and the tenant's creator holds a "Tenant Admin" role with them in its organization.
  await adapters.resourceServers.create(controlPlaneTenantId, {
    name: "Authhero Management API",
    identifier: MANAGEMENT_API_AUDIENCE,
    scopes: MANAGEMENT_API_SCOPES,
    options: { enforce_policies: true, token_dialect: "access_token_authz" },
  } as never);
  database.close();
}

// 2. Every tenant file on this AuthHero's schema, one file at a time under one lock (AuthHero's
//    migrator is per file and unlocked; two hosts starting at once would otherwise collide).
const pass = await migrateTenantFiles({ dataDir, controlPlaneTenantId, migrate: (database) => migrateToLatest(kysely(database)) });
if (pass.failed.some((f) => f.tenantId === controlPlaneTenantId)) {
  console.error(`the control-plane file cannot be migrated: ${pass.failed[0]?.error}`);
  process.exit(1);
}
if (pass.failed.length > 0) console.error("tenant files left on their old schema:", pass.failed);

// 3. AuthHero's two DataAdapters: each call goes to the file of the tenant it names. `dataAdapter`
//    (logins) lets child tenants fall back to the control plane's settings at read time;
//    `managementDataAdapter` (the management API) answers what each tenant stores, so a tenant's
//    admin never reads a secret it only inherits. Spread the result into AuthHero's config: both go.
//    `transaction` is atomic within one tenant file.
const adapters = createTenantFileAdapters({ dataDir, controlPlaneTenantId, open: (database) => createAdapters(kysely(database)) });

// A signing key for tokens (in the control-plane file, shared by every tenant: AuthHero's default).
await ensureSigningKey(adapters.dataAdapter.keys);

// 4. Each request's issuer is the public URL it came in on (tenantgate's X-Forwarded-Host and
//    -Proto): a tenant's discovery, endpoints and token `iss` name its own host. Control-plane and
//    organization tokens (issued on the control plane's URL) stay valid on tenant hosts.
//    With MULTI_TENANT=1 AuthHero is started with `@authhero/multi-tenancy`'s `initMultiTenant`
//    instead: its control-plane client settings (CONTROL_PLANE_CLIENT_ID) and cross-tenant rules,
//    with its own sync off (tenantgate syncs and guards the copies; its tenants API is tenantgate's).
//    The spread's `managementDataAdapter` replaces the one initMultiTenant would derive from
//    `dataAdapter` (it passes the caller's config on after its own), which would carry the fallback.
const additionalIssuers = () => [controlPlaneIssuer];
const { app } = process.env.MULTI_TENANT === "1"
  ? (await import("@authhero/multi-tenancy")).initMultiTenant({
      ...adapters,
      controlPlane: { tenantId: controlPlaneTenantId, clientId: process.env.CONTROL_PLANE_CLIENT_ID ?? "" },
      sync: false,
      additionalIssuers,
    })
  : init({ ...adapters, additionalIssuers });
const server = Bun.serve({
  // Only tenantgate may reach this listener: it alone sets the forwarded headers the issuer is read from.
  hostname: "127.0.0.1",
  port,
  fetch: (request) => app.fetch(request, { ISSUER: publicIssuer(request, controlPlaneIssuer) } as never),
});
console.log(`AuthHero (${process.env.MULTI_TENANT === "1" ? "initMultiTenant" : "init"}) on http://127.0.0.1:${server.port}/ over ${dataDir}/tenants (${pass.migrated.length} files on the current schema)`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.stop();
    adapters.close();
    process.exit(0);
  });
}
