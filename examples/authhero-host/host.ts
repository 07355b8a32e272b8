// An AuthHero host that keeps each tenant in its own database, as tenantgate lays them out: a SQLite
// file per tenant, or a namespace per tenant of a libSQL server (store.ts chooses). Run it beside
// tenantgate on the same data directory or server: AuthHero on 127.0.0.1:3000, tenantgate in front
// of it. The README's "Running it with AuthHero" walks through it; in short:
//
//   DATA_DIR=../../data-authhero npm start          (this folder: AuthHero on 127.0.0.1:3000)
//   DATA_DIR=../../data-authhero npm run bootstrap  (once: the first admin and automation client)
//   npm run start:authhero                          (the repository's root: tenantgate on :8080)
//
// Settings (environment), each with the default that works with the README's commands:
//   DATA_DIR               the data directory tenantgate serves (its tenants/ holds a file per tenant); ./data
//   TENANTGATE_DATABASE_URL  a libSQL server instead of files, as tenantgate's --database-url (with
//                          TENANTGATE_DATABASE_ADMIN_URL and TENANTGATE_DATABASE_AUTH_TOKEN: store.ts)
//   CONTROL_PLANE          the control plane's tenant id, as tenantgate's --control-plane; control_plane
//   CONTROL_PLANE_ISSUER   the control plane's public URL, as tenantgate's --issuer; http://localhost:8080/
//                          (each tenant's public URL is its own host under it: http://acme.localhost:8080/)
//   CONTROL_PLANE_CLIENT_ID  a control-plane client whose callbacks, web origins and logout URLs every
//                          tenant's clients accept too at login (AuthHero merges them; nothing is
//                          copied). bootstrap.ts makes one by this id, with http://*.localhost:8080/
//                          callbacks, so each tenant's Default App can log in at once; default
//   PORT                   this host's port on 127.0.0.1; 3000 (tenantgate's default --upstream)
//   MULTI_TENANT=1         start AuthHero with @authhero/multi-tenancy's initMultiTenant instead of init
//   EMAIL=none             no console e-mail (console-email.ts): only tenants' real providers send
import createAdapters, { migrateToLatest } from "@authhero/kysely-adapter";
import { ensureSigningKey, init, MANAGEMENT_API_AUDIENCE, MANAGEMENT_API_SCOPES } from "authhero";
import { publicIssuer } from "tenantgate/authhero";
import { consoleEmail } from "./console-email.ts";
import { demoCallback } from "./demo-callback.ts";
import { chooseStore } from "./store.ts";
import { widgetHandler } from "./widget.ts";

const dataDir = process.env.DATA_DIR ?? "./data";
const controlPlaneTenantId = process.env.CONTROL_PLANE ?? "control_plane";
const controlPlaneIssuer = process.env.CONTROL_PLANE_ISSUER ?? "http://localhost:8080/";
const controlPlaneClientId = process.env.CONTROL_PLANE_CLIENT_ID || "default";
const port = Number(process.env.PORT ?? 3000);
// Files under DATA_DIR, or a libSQL server's namespaces when TENANTGATE_DATABASE_URL is set.
const store = chooseStore({ dataDir, controlPlaneTenantId });

// 1. A new data directory (or server) gets its control plane from AuthHero's own migrations (start
//    this host before tenantgate the first time: tenantgate then adds only its own tables to it).
if (await store.isNew()) {
  const controlPlane = await store.controlPlane();
  await migrateToLatest(controlPlane.db);
  const adapters = createAdapters(controlPlane.db);
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
  controlPlane.close();
}

// 2. Every tenant's database on this AuthHero's schema, one at a time under one lock (AuthHero's
//    migrator is per database and unlocked; two hosts starting at once would otherwise collide).
const pass = await store.migrate();
if (pass.failed.some((f) => f.tenantId === controlPlaneTenantId)) {
  console.error(`the control plane cannot be migrated: ${pass.failed[0]?.error}`);
  process.exit(1);
}
if (pass.failed.length > 0) console.error("tenants left on their old schema:", pass.failed);

// 3. AuthHero's two DataAdapters: each call goes to the database of the tenant it names. `dataAdapter`
//    (logins) lets child tenants fall back to the control plane's settings at read time;
//    `managementDataAdapter` (the management API) answers what each tenant stores, so a tenant's
//    admin never reads a secret it only inherits. Spread the result into AuthHero's config: both go.
//    `transaction` is atomic within one tenant's database.
const adapters = store.adapters(controlPlaneClientId);

// E-mail goes to this host's console (console-email.ts) unless a tenant's provider sends for real.
if (process.env.EMAIL !== "none") for (const set of [adapters.dataAdapter, adapters.managementDataAdapter]) Object.assign(set, { emailService: consoleEmail });

// A signing key for tokens (in the control plane, shared by every tenant: AuthHero's default).
await ensureSigningKey(adapters.dataAdapter.keys);

// 4. Each request's issuer is the public URL it came in on (tenantgate's X-Forwarded-Host and
//    -Proto): a tenant's discovery, endpoints and token `iss` name its own host. The management API
//    also takes a tenant's tokens issued on its other public URLs (its host and approved custom
//    domains, as tenantgate does) and control-plane and organization tokens (the control plane's URL).
//    With MULTI_TENANT=1 AuthHero is started with `@authhero/multi-tenancy`'s `initMultiTenant`
//    instead: its control-plane client settings and cross-tenant rules, with its own sync off
//    (tenantgate syncs and guards the copies; its tenants API is tenantgate's). The spread's
//    `managementDataAdapter` replaces the one initMultiTenant would derive from `dataAdapter`.
const additionalIssuers = async ({ tenant_id }: { tenant_id?: string }) => [controlPlaneIssuer, ...(tenant_id ? await adapters.issuersOf(tenant_id, controlPlaneIssuer) : [])];
// The /u2 login pages load AuthHero's widget from here: served when @authhero/widget is installed
// (tenantgate's --universal-login-version 2); the /u pages (the default) need nothing.
const widget = await widgetHandler();
const { app } = process.env.MULTI_TENANT === "1"
  ? (await import("@authhero/multi-tenancy")).initMultiTenant({
      ...adapters,
      controlPlane: { tenantId: controlPlaneTenantId, clientId: controlPlaneClientId },
      sync: false,
      additionalIssuers,
      ...(widget ? { widgetHandler: widget } : {}),
    })
  : init({ ...adapters, additionalIssuers, ...(widget ? { widgetHandler: widget } : {}) });
const server = Bun.serve({
  // Only tenantgate may reach this listener: it alone sets the forwarded headers the issuer is read from.
  hostname: "127.0.0.1",
  port,
  fetch: (request) => demoCallback(request) ?? app.fetch(request, { ISSUER: publicIssuer(request, controlPlaneIssuer) } as never),
});
console.log(`AuthHero (${process.env.MULTI_TENANT === "1" ? "initMultiTenant" : "init"}) on http://127.0.0.1:${server.port}/ over ${store.where} (${pass.migrated.length} tenants on the current schema); login pages /u${widget ? " and /u2 (widget served)" : " (no widget: /u2 is not served)"}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.stop();
    adapters.close();
    process.exit(0);
  });
}
