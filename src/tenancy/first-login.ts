import { columnsIn, hasTableIn, insertInto, type SqlWriter } from "../storage/files.ts";
import { scopeValues } from "../storage/index.ts";
import { newClientGrantId, newClientId, newClientSecret, newConnectionId } from "./ids.ts";

/** AuthHero's database connection: named so, with strategy `auth0` (as Auth0 and AuthHero's seed store it). */
export const DATABASE_CONNECTION = { name: "Username-Password-Authentication", strategy: "auth0" } as const;
/** AuthHero's management API: its resource server's identifier, the audience of management tokens. */
export const MANAGEMENT_API = "urn:authhero:management";

/**
 * The control-plane role a tenant's creator holds in the tenant's organization, as AuthHero's seed
 * names it: every scope of the management API, so the creator's organization tokens can manage it.
 */
export const TENANT_ADMIN_ROLE = { name: "Tenant Admin", description: "Full access to tenant management operations" } as const;

/**
 * The ids a tenant's first-login set-up gets, chosen when the create begins (the journal keeps them)
 * so a retried create writes the same ones. The client secret is not among them: it is made with
 * the file and never kept in the journal.
 */
export interface FirstLoginIds {
  clientId: string;
  connectionId: string;
  /** The machine-to-machine client for the management API, and its grant. */
  managementClientId?: string;
  managementGrantId?: string;
  /** The Default App's login pages; journals from before it was chosen hold none (AuthHero's /u2 then). */
  universalLoginVersion?: "1" | "2";
}

export function firstLoginIds(universalLoginVersion: "1" | "2"): FirstLoginIds {
  return { clientId: newClientId(), connectionId: newConnectionId(), managementClientId: newClientId(), managementGrantId: newClientGrantId(), universalLoginVersion };
}

/** Whether a schema can hold AuthHero's clients (a control plane AuthHero made, not tenantgate's minimal one). */
export async function holdsClients(db: SqlWriter): Promise<boolean> {
  return (await hasTableIn(db, "clients")) && (await hasTableIn(db, "connections"));
}

const LISTS = ["callbacks", "allowed_origins", "web_origins", "client_aliases", "allowed_clients", "allowed_logout_urls", "signing_keys"];
const OBJECTS = ["session_transfer", "oidc_logout", "jwt_configuration", "encryption_key", "addons", "client_metadata", "mobile", "native_social_login", "refresh_token", "default_organization", "client_authentication_methods", "signed_request_object", "token_quota"];

/**
 * What a new tenant needs to serve its first login, as AuthHero's own provisioning gives it
 * (`provisionDefaultClients` and the seed): the database connection (unless the tenant already has
 * one by that name, such as a synced copy) and an interactive "Default App" that may use it and
 * every other connection the tenant has (synced copies), which
 * the tenant row names as `default_client_id`; and, when the tenant has the management API's
 * resource server (synced from the control plane), an "API Explorer Application" granted every one
 * of its scopes. Rows are written as AuthHero's SQL adapter writes them.
 */
export async function provisionFirstLogin(db: SqlWriter, tenantId: string, ids: FirstLoginIds): Promise<void> {
  const now = new Date().toISOString();
  const existing = await db.get<{ id: string }>("SELECT id FROM connections WHERE tenant_id = ? AND name = ?", [tenantId, DATABASE_CONNECTION.name]);
  const connectionId = existing?.id ?? ids.connectionId;
  if (!existing) {
    await insertInto(db, "connections", { id: connectionId, tenant_id: tenantId, ...DATABASE_CONNECTION, options: "{}", is_system: 0, created_at: now, updated_at: now });
  }
  const client: Record<string, unknown> = {
    client_id: ids.clientId,
    tenant_id: tenantId,
    name: "Default App",
    client_secret: newClientSecret(),
    app_type: "regular_web",
    // The values AuthHero's `clients.create` gives, where the table's own defaults differ.
    is_first_party: 1,
    sso_disabled: 0,
    grant_types: JSON.stringify(["authorization_code", "refresh_token"]),
    // AuthHero sends a client without this flag to its server-rendered /u pages, which need nothing
    // more of the host; "2" sends it to /u2, whose pages load AuthHero's widget from the host.
    client_metadata: JSON.stringify(ids.universalLoginVersion === "1" ? {} : { universal_login_version: "2" }),
    // Every connection the tenant has now (the synced copies are in), as Auth0 enables a tenant's
    // connections for a new application: the control plane's code login by e-mail or social IdPs
    // are then offered by each tenant's first app. The database connection first.
    connections: JSON.stringify([connectionId, ...(await otherConnections(db, tenantId, connectionId))]),
    created_at: now,
    updated_at: now,
  };
  await insertClient(db, client);

  const management = await db.get<{ scopes: string | null }>("SELECT scopes FROM resource_servers WHERE tenant_id = ? AND identifier = ?", [tenantId, MANAGEMENT_API]);
  if (!management || !ids.managementClientId || !ids.managementGrantId || !(await hasTableIn(db, "client_grants"))) return;
  await insertClient(db, {
    client_id: ids.managementClientId,
    tenant_id: tenantId,
    name: "API Explorer Application",
    client_secret: newClientSecret(),
    app_type: "non_interactive",
    is_first_party: 1,
    sso_disabled: 0,
    grant_types: JSON.stringify(["client_credentials"]),
    created_at: now,
    updated_at: now,
  });
  await insertInto(db, "client_grants", {
    id: ids.managementGrantId,
    tenant_id: tenantId,
    client_id: ids.managementClientId,
    audience: MANAGEMENT_API,
    scope: JSON.stringify(scopeValues(management.scopes)),
    authorization_details_types: "[]",
    created_at: now,
    updated_at: now,
  });
}

async function otherConnections(db: SqlWriter, tenantId: string, except: string): Promise<string[]> {
  return (await db.all<{ id: string }>("SELECT id FROM connections WHERE tenant_id = ? AND id != ? ORDER BY name, id", [tenantId, except])).map((c) => c.id);
}

/** A client row with every JSON column AuthHero's table requires (empty where not given). */
async function insertClient(db: SqlWriter, client: Record<string, unknown>): Promise<void> {
  const have = await columnsIn(db, "clients");
  const row = { ...client };
  for (const c of LISTS) if (!(c in row) && have.has(c)) row[c] = "[]";
  for (const c of OBJECTS) if (!(c in row) && have.has(c)) row[c] = "{}";
  await insertInto(db, "clients", row);
}
