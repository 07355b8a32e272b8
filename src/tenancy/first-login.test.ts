import { afterEach, beforeEach, expect, test } from "bun:test";
import { clientSchema, connectionSchema } from "@authhero/adapter-interfaces";
import { cpWrites, openFixture, type SyncFixture } from "../../test/sync/fixture.ts";

// A new tenant can serve its first login with no further set-up, as AuthHero's own provisioning
// leaves one (issue 12): a database connection and an interactive "Default App" that is the
// tenant's default_client_id, written so AuthHero's SQL adapter reads them as valid rows.

// AuthHero 9.6.1's clients table on SQLite (its NOT NULL JSON columns have no default).
const CLIENTS = `CREATE TABLE clients (client_id varchar(191) NOT NULL, tenant_id varchar(191) NOT NULL, name varchar(255) NOT NULL,
  global int DEFAULT 0 NOT NULL, app_type varchar(64) DEFAULT 'regular_web', is_first_party int DEFAULT 0 NOT NULL, oidc_conformant int DEFAULT 1 NOT NULL,
  callbacks text NOT NULL, allowed_origins text NOT NULL, web_origins text NOT NULL, client_aliases text NOT NULL, allowed_clients text NOT NULL,
  allowed_logout_urls text NOT NULL, session_transfer text NOT NULL, oidc_logout text NOT NULL, grant_types text NOT NULL, jwt_configuration text NOT NULL,
  signing_keys text NOT NULL, encryption_key text NOT NULL, sso int DEFAULT 0 NOT NULL, sso_disabled int DEFAULT 1 NOT NULL,
  cross_origin_authentication int DEFAULT 0 NOT NULL, custom_login_page_on int DEFAULT 0 NOT NULL, addons text NOT NULL,
  token_endpoint_auth_method varchar(64) DEFAULT 'client_secret_basic', client_metadata text NOT NULL, mobile text NOT NULL,
  native_social_login text NOT NULL, refresh_token text NOT NULL, default_organization text NOT NULL, organization_usage varchar(32) DEFAULT 'deny',
  organization_require_behavior varchar(32) DEFAULT 'no_prompt', client_authentication_methods text NOT NULL,
  require_pushed_authorization_requests int DEFAULT 0 NOT NULL, require_proof_of_possession int DEFAULT 0 NOT NULL, signed_request_object text NOT NULL,
  token_quota text NOT NULL, created_at varchar(35) NOT NULL, updated_at varchar(35) NOT NULL, auth0_conformant int DEFAULT 1,
  hide_sign_up_disabled_error int DEFAULT 0 NOT NULL, client_secret varchar(255), connections text, PRIMARY KEY (tenant_id, client_id))`;
const JSON_COLUMNS = ["callbacks", "allowed_origins", "web_origins", "client_aliases", "allowed_clients", "allowed_logout_urls", "session_transfer", "oidc_logout", "grant_types", "jwt_configuration", "signing_keys", "encryption_key", "addons", "client_metadata", "mobile", "native_social_login", "refresh_token", "default_organization", "client_authentication_methods", "signed_request_object", "token_quota"];
const FLAGS = ["global", "is_first_party", "oidc_conformant", "sso", "sso_disabled", "cross_origin_authentication", "custom_login_page_on", "require_pushed_authorization_requests", "require_proof_of_possession", "auth0_conformant", "hide_sign_up_disabled_error"];

type Row = Record<string, unknown>;
/** A client as AuthHero's SQL adapter reads it (shared/reference/authhero-runtime.md §3.7). */
function readClient(r: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(r)) {
    if (v === null) continue;
    out[k] = JSON_COLUMNS.includes(k) ? JSON.parse(v as string) : FLAGS.includes(k) ? !!v : v;
  }
  out.connections = JSON.parse((r.connections as string) || "[]");
  return out;
}

let f: SyncFixture;
beforeEach(async () => {
  f = await openFixture();
  f.authhero.exec(CLIENTS);
});
afterEach(() => f.close());

test("the tenant gets a database connection and a Default App that AuthHero reads as valid, named as its default client", async () => {
  await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
  const acme = f.tenantFile("acme");
  const clients = acme.query("SELECT * FROM clients").all() as Row[];
  expect(clients).toHaveLength(1);
  const client = readClient(clients[0] as Row);
  expect(client).toMatchObject({ name: "Default App", is_first_party: true, sso_disabled: false, grant_types: ["authorization_code", "refresh_token"] });
  expect(clientSchema.safeParse(client).success).toBe(true);
  expect(f.cp.tenant("acme")?.default_client_id).toBe(client.client_id);
  expect((acme.query("SELECT default_client_id FROM tenants").get() as Row).default_client_id).toBe(client.client_id);
  const connections = acme.query("SELECT * FROM connections").all() as Row[];
  expect(connections.map((c) => [c.name, c.strategy])).toEqual([["Username-Password-Authentication", "auth0"]]);
  expect(client.connections).toEqual([connections[0]?.id]);
  const { is_system: _s, ...connection } = Object.fromEntries(Object.entries(connections[0] as Row).filter(([, v]) => v !== null));
  expect(connectionSchema.safeParse({ ...connection, options: JSON.parse(connection.options as string) }).success).toBe(true);
});

test("the Default App's login pages are AuthHero's server-rendered /u by default; --universal-login-version 2 gives /u2", async () => {
  // /u2 loads AuthHero's widget from the host, which none serves unless it is set up to (issue 19):
  // the default must be the pages a browser can log in on as the example host runs.
  await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
  expect(readClient(f.tenantFile("acme").query("SELECT * FROM clients").get() as Row).client_metadata).toEqual({});
  const two = await openFixture(["--universal-login-version", "2"]);
  try {
    two.authhero.exec(CLIENTS);
    await two.lifecycle.create({ id: "beta", friendly_name: "Beta" });
    expect(readClient(two.tenantFile("beta").query("SELECT * FROM clients").get() as Row).client_metadata).toEqual({ universal_login_version: "2" });
  } finally {
    two.close();
  }
});

test("a database connection synced from the control plane is the one the Default App uses (no second one)", async () => {
  cpWrites(f.authhero).connection("con_shared", "Username-Password-Authentication", {});
  await f.lifecycle.create({ id: "beta", friendly_name: "Beta" });
  const beta = f.tenantFile("beta");
  expect((beta.query("SELECT id, is_system FROM connections").all() as Row[]).map((c) => [c.id, c.is_system])).toEqual([["con_shared", 1]]);
  expect(readClient(beta.query("SELECT * FROM clients").get() as Row).connections).toEqual(["con_shared"]);
});

test("the Default App may use every connection the new tenant has: the database one first, then the synced passwordless and social ones", async () => {
  // As Auth0 enables a tenant's connections for a new application: a control plane that offers
  // code login by e-mail (strategy "email") or a social IdP offers it in every tenant's first app.
  const now = new Date().toISOString();
  f.authhero.query("INSERT INTO connections (id, tenant_id, name, strategy, options, created_at, updated_at) VALUES ('con_email', 'control_plane', 'email', 'email', '{}', ?, ?)").run(now, now);
  cpWrites(f.authhero).connection("con_corp", "corp", { client_id: "c" });
  await f.lifecycle.create({ id: "beta", friendly_name: "Beta" });
  const beta = f.tenantFile("beta");
  const db = (beta.query("SELECT id FROM connections WHERE name = 'Username-Password-Authentication'").get() as Row).id;
  expect(readClient(beta.query("SELECT * FROM clients").get() as Row).connections).toEqual([db, "con_corp", "con_email"]);
});

test("with the management API synced from the control plane, an API Explorer client is granted all its scopes", async () => {
  f.authhero.exec(`CREATE TABLE client_grants (id varchar(21) NOT NULL, tenant_id varchar(191) NOT NULL, client_id varchar(191) NOT NULL, audience varchar(191) NOT NULL, scope text,
    organization_usage varchar(32), allow_any_organization int DEFAULT 0, is_system int DEFAULT 0, subject_type varchar(32), authorization_details_types text,
    created_at varchar(35) NOT NULL, updated_at varchar(35) NOT NULL, PRIMARY KEY (tenant_id, id), FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, client_id) ON DELETE CASCADE)`);
  cpWrites(f.authhero).resourceServer("api_mgmt", "urn:authhero:management", { scopes: [{ value: "read:users", description: "r" }, { value: "update:users", description: "u" }] });
  await f.lifecycle.create({ id: "gamma", friendly_name: "Gamma" });
  const gamma = f.tenantFile("gamma");
  const m2m = gamma.query("SELECT * FROM clients WHERE name = 'API Explorer Application'").get() as Row;
  expect(readClient(m2m)).toMatchObject({ app_type: "non_interactive", grant_types: ["client_credentials"] });
  expect(clientSchema.safeParse(readClient(m2m)).success).toBe(true);
  const grants = gamma.query("SELECT client_id, audience, scope FROM client_grants").all() as Row[];
  expect(grants).toEqual([{ client_id: m2m.client_id, audience: "urn:authhero:management", scope: JSON.stringify(["read:users", "update:users"]) }]);
  // The default client stays the interactive one.
  expect(f.cp.tenant("gamma")?.default_client_id).not.toBe(m2m.client_id);
});

test("without the management API in the tenant, no machine-to-machine client is made", async () => {
  await f.lifecycle.create({ id: "delta", friendly_name: "Delta" });
  expect((f.tenantFile("delta").query("SELECT name FROM clients").all() as Row[]).map((c) => c.name)).toEqual(["Default App"]);
});

test("the creator holds the control plane's Tenant Admin role in the new organization, so organization tokens carry the management API's permissions", async () => {
  f.authhero.exec("CREATE TABLE users (tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (tenant_id, user_id)); INSERT INTO users VALUES ('control_plane', 'auth0|olga')");
  cpWrites(f.authhero).resourceServer("api_mgmt", "urn:authhero:management", { scopes: [{ value: "read:users", description: "r" }, { value: "update:users", description: "u" }] });
  const gamma = await f.lifecycle.create({ id: "gamma", friendly_name: "Gamma", creator: "auth0|olga" });
  const roles = f.authhero.query("SELECT id, name FROM roles WHERE tenant_id = 'control_plane'").all() as Row[];
  expect(roles.map((r) => r.name)).toEqual(["Tenant Admin"]);
  const roleId = roles[0]?.id;
  const permissions = f.authhero.query("SELECT resource_server_identifier, permission_name FROM role_permissions WHERE role_id = ? ORDER BY permission_name").all(roleId as string) as Row[];
  expect(permissions).toEqual([
    { resource_server_identifier: "urn:authhero:management", permission_name: "read:users" },
    { resource_server_identifier: "urn:authhero:management", permission_name: "update:users" },
  ]);
  const held = () => f.authhero.query("SELECT user_id, role_id, organization_id FROM user_roles ORDER BY organization_id").all() as Row[];
  expect(held()).toEqual([{ user_id: "auth0|olga", role_id: roleId, organization_id: gamma.organization_id }]);

  // A second tenant reuses the role; a creator who is no control-plane user gets none.
  const delta = await f.lifecycle.create({ id: "delta", friendly_name: "Delta", creator: "auth0|olga" });
  await f.lifecycle.create({ id: "omega", friendly_name: "Omega", creator: "dev|admin" });
  expect((f.authhero.query("SELECT count(*) AS n FROM roles WHERE tenant_id = 'control_plane'").get() as Row).n).toBe(1);
  expect(held().map((r) => r.organization_id).sort()).toEqual([gamma.organization_id, delta.organization_id].sort());

  // Deleting the tenant takes the role held in its organization with it.
  f.lifecycle.delete("gamma");
  expect(held()).toEqual([{ user_id: "auth0|olga", role_id: roleId, organization_id: delta.organization_id }]);
});
