// An AuthHero host that keeps each tenant in its own SQLite file, as tenantgate lays them out.
// Run it beside tenantgate on the same data directory: AuthHero on 127.0.0.1:3000, tenantgate in
// front of it (`tenantgate serve --upstream http://127.0.0.1:3000 --data-dir <same dir>`).
//
//   DATA_DIR=./data ISSUER=http://localhost:8080/ bun host.ts
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Kysely } from "kysely";
import { BunSqliteDialect } from "kysely-bun-sqlite";
import createAdapters, { migrateToLatest } from "@authhero/kysely-adapter";
import { init } from "authhero";
import { createTenantFileAdapters, migrateTenantFiles } from "tenantgate/authhero";

const dataDir = process.env.DATA_DIR ?? "./data";
const controlPlaneTenantId = process.env.CONTROL_PLANE ?? "control_plane";
// The issuer AuthHero names in discovery and tokens: the public URL clients use, through tenantgate.
const issuer = process.env.ISSUER ?? "http://localhost:8080/";
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
  await createAdapters(kysely(database)).tenants.create({ id: controlPlaneTenantId, friendly_name: "Control plane", audience: "urn:authhero:management" } as never);
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

// 3. AuthHero's DataAdapters: each call goes to the file of the tenant it names; child tenants fall
//    back to the control plane's settings at read time. `transaction` is atomic within one tenant file.
const dataAdapter = createTenantFileAdapters({ dataDir, controlPlaneTenantId, open: (database) => createAdapters(kysely(database)) });

const { app } = init({ dataAdapter });
const server = Bun.serve({ hostname: "127.0.0.1", port, fetch: (request) => app.fetch(request, { ISSUER: issuer } as never) });
console.log(`AuthHero on http://127.0.0.1:${server.port}/ over ${dataDir}/tenants (${pass.migrated.length} files on the current schema)`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.stop();
    dataAdapter.close();
    process.exit(0);
  });
}
