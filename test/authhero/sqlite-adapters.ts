import type { Database } from "bun:sqlite";
import { BunSqlDb, type SqlDb, type SqlWriter } from "../../src/storage/sql.ts";
import type { DataAdapters } from "@authhero/adapter-interfaces";

// A real `open` factory for the tests: AuthHero-shaped adapters over SQL (a file, or a libSQL
// namespace) for the namespaces the module touches (connections, email providers, clients, tenants,
// keys, custom domains, one-time codes with AuthHero's `codes` table and its consume, one
// conditional UPDATE). It stands in for AuthHero's SQL adapter, which does not install here; the
// module under test is the dispatch and fallback around it. The tables AuthHero's migrations would
// add are EXTRA_TABLES (sqliteAdapters makes them in the file it opens).
export const EXTRA_TABLES = `
CREATE TABLE IF NOT EXISTS email_providers (tenant_id TEXT PRIMARY KEY, name TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, default_from_address TEXT, credentials TEXT NOT NULL DEFAULT '{}', settings TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clients (client_id TEXT NOT NULL, tenant_id TEXT NOT NULL, name TEXT NOT NULL, callbacks TEXT NOT NULL DEFAULT '[]', web_origins TEXT NOT NULL DEFAULT '[]', allowed_logout_urls TEXT NOT NULL DEFAULT '[]', allowed_origins TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL DEFAULT '', PRIMARY KEY (tenant_id, client_id));
CREATE TABLE IF NOT EXISTS hooks (hook_id TEXT NOT NULL, tenant_id TEXT NOT NULL, url TEXT NOT NULL, trigger_id TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, synchronous INTEGER NOT NULL DEFAULT 0, metadata TEXT, created_at TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL DEFAULT '', PRIMARY KEY (tenant_id, hook_id));
CREATE TABLE IF NOT EXISTS keys (kid TEXT PRIMARY KEY, tenant_id TEXT, cert TEXT, type TEXT NOT NULL DEFAULT 'jwt_signing', created_at TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS codes (code_id TEXT NOT NULL, tenant_id TEXT NOT NULL, code_type TEXT NOT NULL, login_id TEXT NOT NULL, connection_id TEXT, user_id TEXT, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT, PRIMARY KEY (code_id, code_type));
`;

type Row = Record<string, unknown>;
const json = (v: unknown, fallback: unknown) => (typeof v === "string" ? JSON.parse(v) : fallback);
/** Without its NULL columns, as AuthHero's SQL adapter reads most rows (an optional field is absent, never null). */
const present = (r: Row): Row => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null && v !== undefined));
/** AuthHero's reading of `is_system`: true, or absent. */
const system = (r: Row) => (r.is_system === 1 ? { is_system: true } : { is_system: undefined });

// Rows are read as AuthHero 9.6.1's SQL adapter reads them (shared/reference/authhero-runtime.md §3):
// JSON columns parsed, 0/1 flags as booleans, NULLs left out, so what it answers is what AuthHero's
// schemas accept for such rows.
const connection = (r: Row) => present({ ...r, options: json(r.options, {}), metadata: json(r.metadata, undefined), ...system(r) });
const resourceServer = (r: Row) =>
  present({ ...r, scopes: json(r.scopes, []), options: json(r.options, {}), metadata: json(r.metadata, undefined), token_lifetime: r.token_lifetime ?? 86400, token_lifetime_for_web: r.token_lifetime_for_web ?? 7200, ...system(r) });
const hook = (r: Row) => present({ ...r, metadata: json(r.metadata, {}), enabled: r.enabled === 1, synchronous: r.synchronous === 1 });
const client = (r: Row) => ({ ...present(r), callbacks: json(r.callbacks, []), web_origins: json(r.web_origins, []), allowed_logout_urls: json(r.allowed_logout_urls, []), allowed_origins: json(r.allowed_origins, []) });
const emailProvider = (r: Row) => present({ ...r, credentials: json(r.credentials, {}), settings: json(r.settings, {}), enabled: r.enabled === 1 });
const tenant = (r: Row) => present({ ...r, flags: json(r.flags, undefined), allow_organization_name_in_authentication_api: r.allow_organization_name_in_authentication_api === 1 });

/**
 * Over a local file. `transaction` as AuthHero's kysely adapter has it: the callback gets a second adapter set bound to
 * the transaction, whose own `transaction` runs a nested callback in the same transaction (no
 * savepoint); a throw rolls everything back.
 */
export function sqliteAdapters(database: Database): DataAdapters {
  database.exec(EXTRA_TABLES);
  return sqlAdapters(new BunSqlDb(database));
}

/** The same adapters over any engine's SqlDb (a libSQL namespace included); its tables made by the caller. */
export function sqlAdapters(db: SqlDb | SqlWriter, inTransaction = false): DataAdapters {
  const now = () => new Date().toISOString();
  const adapters = {
    connections: {
      async create(tenant_id: string, c: Row) {
        await db.run("INSERT INTO connections (id, tenant_id, name, strategy, options, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", [c.id as string, tenant_id, c.name as string, c.strategy as string, JSON.stringify(c.options ?? {}), now(), now()]);
        return connection((await db.get("SELECT * FROM connections WHERE tenant_id = ? AND id = ?", [tenant_id, c.id as string])) as Row);
      },
      async get(tenant_id: string, id: string) {
        const r = (await db.get("SELECT * FROM connections WHERE tenant_id = ? AND id = ?", [tenant_id, id])) as Row | null;
        return r ? connection(r) : null;
      },
      async list(tenant_id: string) {
        const rows = (await db.all("SELECT * FROM connections WHERE tenant_id = ? ORDER BY id", [tenant_id])) as Row[];
        return { connections: rows.map(connection), start: 0, limit: rows.length, length: rows.length };
      },
      async remove(tenant_id: string, id: string) {
        return (await db.run("DELETE FROM connections WHERE tenant_id = ? AND id = ?", [tenant_id, id])) > 0;
      },
      async update(tenant_id: string, id: string, c: Row) {
        return (await db.run("UPDATE connections SET options = ? WHERE tenant_id = ? AND id = ?", [JSON.stringify(c.options ?? {}), tenant_id, id])) > 0;
      },
    },
    resourceServers: {
      async create(tenant_id: string, r: Row) {
        await db.run("INSERT INTO resource_servers (id, tenant_id, identifier, name, scopes, is_system, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
          r.id as string,
          tenant_id,
          r.identifier as string,
          r.name as string,
          JSON.stringify(r.scopes ?? []),
          r.is_system ? 1 : 0,
          now(),
          now(),
        ]);
      },
      async get(tenant_id: string, id: string) {
        const r = (await db.get("SELECT * FROM resource_servers WHERE tenant_id = ? AND id = ?", [tenant_id, id])) as Row | null;
        return r ? resourceServer(r) : null;
      },
      async list(tenant_id: string) {
        const rows = ((await db.all("SELECT * FROM resource_servers WHERE tenant_id = ? ORDER BY id", [tenant_id])) as Row[]).map(resourceServer);
        return { resource_servers: rows, start: 0, limit: rows.length, length: rows.length };
      },
    },
    hooks: {
      async create(tenant_id: string, h: Row) {
        await db.run("INSERT INTO hooks (hook_id, tenant_id, url, trigger_id, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", [h.hook_id as string, tenant_id, h.url as string, h.trigger_id as string, JSON.stringify(h.metadata ?? {}), now(), now()]);
      },
      async get(tenant_id: string, id: string) {
        const r = (await db.get("SELECT * FROM hooks WHERE tenant_id = ? AND hook_id = ?", [tenant_id, id])) as Row | null;
        return r ? hook(r) : null;
      },
      async list(tenant_id: string) {
        const rows = ((await db.all("SELECT * FROM hooks WHERE tenant_id = ? ORDER BY hook_id", [tenant_id])) as Row[]).map(hook);
        return { hooks: rows, start: 0, limit: rows.length, length: rows.length };
      },
    },
    emailProviders: {
      async create(tenant_id: string, p: Row) {
        await db.run("INSERT INTO email_providers (tenant_id, name, credentials, created_at, updated_at) VALUES (?, ?, ?, ?, ?)", [tenant_id, p.name as string, JSON.stringify(p.credentials ?? {}), now(), now()]);
      },
      async get(tenant_id: string) {
        const r = (await db.get("SELECT * FROM email_providers WHERE tenant_id = ?", [tenant_id])) as Row | null;
        return r ? emailProvider(r) : null;
      },
      async update() {},
      async remove() {},
    },
    clients: {
      async create(tenant_id: string, c: Row) {
        await db.run("INSERT INTO clients (client_id, tenant_id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)", [c.client_id as string, tenant_id, (c.name as string) ?? "app", now(), now()]);
        return client((await db.get("SELECT * FROM clients WHERE tenant_id = ? AND client_id = ?", [tenant_id, c.client_id as string])) as Row);
      },
      async getByClientId(client_id: string) {
        const r = (await db.get("SELECT * FROM clients WHERE client_id = ? LIMIT 1", [client_id])) as Row | null;
        return r ? client(r) : null;
      },
      async get(tenant_id: string, client_id: string) {
        const r = (await db.get("SELECT * FROM clients WHERE tenant_id = ? AND client_id = ?", [tenant_id, client_id])) as Row | null;
        return r ? client(r) : null;
      },
    },
    clientConnections: {
      // Every connection of the tenant is enabled for every client in this stand-in.
      async listByClient(tenant_id: string) {
        return ((await db.all("SELECT * FROM connections WHERE tenant_id = ? ORDER BY id", [tenant_id])) as Row[]).map(connection);
      },
    },
    tenants: {
      async get(id: string) {
        const r = (await db.get("SELECT * FROM tenants WHERE id = ?", [id])) as Row | undefined;
        return r ? tenant(r) : null;
      },
      async list() {
        const tenants = ((await db.all("SELECT * FROM tenants ORDER BY id")) as Row[]).map(tenant);
        return { tenants, start: 0, limit: tenants.length, length: tenants.length };
      },
    },
    customDomains: {
      async list(tenant_id: string) {
        return (await db.all("SELECT * FROM custom_domains WHERE tenant_id = ? ORDER BY domain", [tenant_id]));
      },
    },
    keys: {
      async list() {
        const signingKeys = (await db.all("SELECT * FROM keys ORDER BY kid"));
        return { signingKeys, start: 0, limit: signingKeys.length, length: signingKeys.length };
      },
      async create(key: Row) {
        await db.run("INSERT INTO keys (kid, tenant_id, cert) VALUES (?, ?, ?)", [key.kid as string, (key.tenant_id as string | undefined) ?? null, (key.cert as string) ?? ""]);
      },
    },
    codes: {
      async create(tenant_id: string, c: Row) {
        await db.run("INSERT INTO codes (code_id, tenant_id, code_type, login_id, connection_id, user_id, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
          c.code_id as string,
          tenant_id,
          c.code_type as string,
          c.login_id as string,
          (c.connection_id as string | undefined) ?? null,
          (c.user_id as string | undefined) ?? null,
          now(),
          c.expires_at as string,
          (c.used_at as string | undefined) ?? null,
        ]);
        return (await db.get("SELECT * FROM codes WHERE tenant_id = ? AND code_id = ? AND code_type = ?", [tenant_id, c.code_id as string, c.code_type as string])) as Row;
      },
      async get(tenant_id: string, code_id: string, code_type: string) {
        const r = (await db.get("SELECT * FROM codes WHERE tenant_id = ? AND code_id = ? AND code_type = ?", [tenant_id, code_id, code_type])) as Row | undefined;
        return r ? present(r) : null;
      },
      /** Marks it used whether or not it was. */
      async used(tenant_id: string, code_id: string) {
        return (await db.run("UPDATE codes SET used_at = ? WHERE tenant_id = ? AND code_id = ?", [now(), tenant_id, code_id])) > 0;
      },
      /** Marks it used only if it was not: one conditional UPDATE, so of two at once exactly one changes the row. */
      async consume(tenant_id: string, code_id: string) {
        return (await db.run("UPDATE codes SET used_at = ? WHERE tenant_id = ? AND code_id = ? AND used_at IS NULL", [now(), tenant_id, code_id])) > 0;
      },
    },
    async transaction<T>(fn: (trx: DataAdapters) => Promise<T>): Promise<T> {
      // A nested callback runs in the same transaction, as with AuthHero's SQL adapter.
      if (inTransaction || !("transaction" in db)) return fn(adapters as unknown as DataAdapters);
      return db.transaction((tx) => fn(sqlAdapters(tx, true)));
    },
  };
  return adapters as unknown as DataAdapters;
}
