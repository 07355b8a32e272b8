// The AuthHero-compatible tables tenantgate needs when it has to create the control-plane file itself
// (standalone and local development). Names and columns follow AuthHero's SQLite schema
// (shared/reference/authhero-tables.md). When AuthHero created the file, none of this runs.

export const BASELINE_SQL = `
CREATE TABLE IF NOT EXISTS kysely_migration (name TEXT PRIMARY KEY NOT NULL, timestamp TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kysely_migration_lock (id TEXT PRIMARY KEY NOT NULL, is_locked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS tenants (
  id TEXT PRIMARY KEY NOT NULL,
  friendly_name TEXT,
  audience TEXT,
  sender_email TEXT,
  sender_name TEXT,
  support_url TEXT,
  support_email TEXT,
  picture_url TEXT,
  flags TEXT,
  default_client_id TEXT,
  default_audience TEXT,
  default_organization TEXT,
  allow_organization_name_in_authentication_api INTEGER,
  deployment_type TEXT NOT NULL DEFAULT 'shared',
  provisioning_state TEXT NOT NULL DEFAULT 'ready',
  provisioning_error TEXT,
  provisioning_state_changed_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS organizations (
  id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL,
  name TEXT NOT NULL,
  display_name TEXT,
  branding TEXT,
  metadata TEXT,
  enabled_connections TEXT,
  token_quota TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS organizations_tenant_name ON organizations (tenant_id, name);
CREATE TABLE IF NOT EXISTS user_organizations (
  id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS user_organizations_unique ON user_organizations (tenant_id, user_id, organization_id);
CREATE TABLE IF NOT EXISTS resource_servers (
  id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  identifier TEXT NOT NULL,
  name TEXT NOT NULL,
  scopes TEXT,
  signing_alg TEXT,
  signing_secret TEXT,
  token_lifetime INTEGER,
  token_lifetime_for_web INTEGER,
  skip_consent_for_verifiable_first_party_clients INTEGER,
  allow_offline_access INTEGER,
  verification_key TEXT,
  options TEXT,
  is_system INTEGER NOT NULL DEFAULT 0,
  metadata TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS resource_servers_identifier ON resource_servers (tenant_id, identifier);
CREATE TABLE IF NOT EXISTS roles (
  id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  is_system INTEGER NOT NULL DEFAULT 0,
  metadata TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS roles_name ON roles (tenant_id, name);
CREATE TABLE IF NOT EXISTS role_permissions (
  tenant_id TEXT NOT NULL,
  role_id TEXT NOT NULL,
  resource_server_identifier TEXT NOT NULL,
  permission_name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, role_id, resource_server_identifier, permission_name)
);
CREATE INDEX IF NOT EXISTS role_permissions_permission ON role_permissions (tenant_id, resource_server_identifier, permission_name);
CREATE TABLE IF NOT EXISTS user_roles (
  tenant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  role_id TEXT NOT NULL,
  organization_id TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, user_id, role_id, organization_id)
);
CREATE TABLE IF NOT EXISTS connections (
  id TEXT NOT NULL,
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  strategy TEXT,
  options TEXT NOT NULL DEFAULT '{}',
  response_type TEXT,
  response_mode TEXT,
  display_name TEXT,
  is_domain_connection INTEGER,
  show_as_button INTEGER,
  is_system INTEGER NOT NULL DEFAULT 0,
  metadata TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE TABLE IF NOT EXISTS custom_domains (
  custom_domain_id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL,
  domain TEXT NOT NULL,
  "primary" INTEGER NOT NULL,
  status TEXT NOT NULL,
  type TEXT NOT NULL,
  origin_domain_name TEXT,
  verification TEXT,
  custom_client_ip_header TEXT,
  tls_policy TEXT,
  domain_metadata TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS custom_domains_domain ON custom_domains (domain);
`;

/**
 * The columns tenantgate writes into AuthHero's tables. Checked at start-up against the real file, so
 * an AuthHero schema that lacks one is a clear error naming table and column, never a silent skip.
 */
export const REQUIRED_COLUMNS: Record<string, readonly string[]> = {
  tenants: ["id", "friendly_name", "created_at", "updated_at"],
  organizations: ["id", "tenant_id", "name", "display_name", "created_at", "updated_at"],
  user_organizations: ["id", "tenant_id", "user_id", "organization_id", "created_at", "updated_at"],
  custom_domains: ["custom_domain_id", "tenant_id", "domain", "primary", "status", "type", "created_at", "updated_at"],
};
