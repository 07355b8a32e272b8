import type { Database } from "bun:sqlite";
import { BunSqlDb, type SqlDb, type SqlWriter } from "../../src/storage/sql.ts";
import type { DataAdapters } from "@authhero/adapter-interfaces";

// A real `open` factory for the tests: AuthHero-shaped adapters over bun:sqlite for the namespaces
// the module touches (connections, email providers, clients, tenants, keys, custom domains, one-time
// codes with AuthHero's `codes` table and its consume, one conditional UPDATE). It stands in for
// AuthHero's SQL adapter, which does not install here; the module under test is the dispatch and
// fallback around it. Tables AuthHero's migrations would add are created on open.
export const EXTRA_TABLES = `
CREATE TABLE IF NOT EXISTS email_providers (tenant_id TEXT PRIMARY KEY, name TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, default_from_address TEXT, credentials TEXT NOT NULL DEFAULT '{}', settings TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clients (client_id TEXT NOT NULL, tenant_id TEXT NOT NULL, name TEXT NOT NULL, callbacks TEXT NOT NULL DEFAULT '[]', web_origins TEXT NOT NULL DEFAULT '[]', allowed_logout_urls TEXT NOT NULL DEFAULT '[]', allowed_origins TEXT NOT NULL DEFAULT '[]', PRIMARY KEY (tenant_id, client_id));
CREATE TABLE IF NOT EXISTS hooks (hook_id TEXT NOT NULL, tenant_id TEXT NOT NULL, url TEXT NOT NULL, trigger_id TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, metadata TEXT, created_at TEXT NOT NULL DEFAULT '', PRIMARY KEY (tenant_id, hook_id));
CREATE TABLE IF NOT EXISTS keys (kid TEXT PRIMARY KEY, tenant_id TEXT, cert TEXT, type TEXT NOT NULL DEFAULT 'jwt_signing', created_at TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS codes (code_id TEXT NOT NULL, tenant_id TEXT NOT NULL, code_type TEXT NOT NULL, login_id TEXT NOT NULL, connection_id TEXT, user_id TEXT, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT, PRIMARY KEY (code_id, code_type));
`;

type Row = Record<string, unknown>;
const json = (v: unknown, fallback: unknown) => (typeof v === "string" ? JSON.parse(v) : fallback);

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
  const connection = (r: Row) => ({ ...r, options: json(r.options, {}), metadata: json(r.metadata, undefined) });
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
        return r ? { ...r, scopes: json(r.scopes, []), is_system: r.is_system === 1 } : null;
      },
      async list(tenant_id: string) {
        const rows = ((await db.all("SELECT * FROM resource_servers WHERE tenant_id = ? ORDER BY id", [tenant_id])) as Row[]).map((r) => ({ ...r, scopes: json(r.scopes, []), is_system: r.is_system === 1 }));
        return { resource_servers: rows, start: 0, limit: rows.length, length: rows.length };
      },
    },
    hooks: {
      async create(tenant_id: string, h: Row) {
        await db.run("INSERT INTO hooks (hook_id, tenant_id, url, trigger_id, metadata) VALUES (?, ?, ?, ?, ?)", [h.hook_id as string, tenant_id, h.url as string, h.trigger_id as string, JSON.stringify(h.metadata ?? {})]);
      },
      async get(tenant_id: string, id: string) {
        const r = (await db.get("SELECT * FROM hooks WHERE tenant_id = ? AND hook_id = ?", [tenant_id, id])) as Row | null;
        return r ? { ...r, metadata: json(r.metadata, {}) } : null;
      },
      async list(tenant_id: string) {
        const rows = ((await db.all("SELECT * FROM hooks WHERE tenant_id = ? ORDER BY hook_id", [tenant_id])) as Row[]).map((r) => ({ ...r, metadata: json(r.metadata, {}) }));
        return { hooks: rows, start: 0, limit: rows.length, length: rows.length };
      },
    },
    emailProviders: {
      async create(tenant_id: string, p: Row) {
        await db.run("INSERT INTO email_providers (tenant_id, name, credentials, created_at, updated_at) VALUES (?, ?, ?, ?, ?)", [tenant_id, p.name as string, JSON.stringify(p.credentials ?? {}), now(), now()]);
      },
      async get(tenant_id: string) {
        const r = (await db.get("SELECT * FROM email_providers WHERE tenant_id = ?", [tenant_id])) as Row | null;
        return r ? { ...r, credentials: json(r.credentials, {}) } : null;
      },
      async update() {},
      async remove() {},
    },
    clients: {
      async create(tenant_id: string, c: Row) {
        await db.run("INSERT INTO clients (client_id, tenant_id, name) VALUES (?, ?, ?)", [c.client_id as string, tenant_id, (c.name as string) ?? "app"]);
        return { client_id: c.client_id, tenant_id, name: c.name };
      },
      async getByClientId(client_id: string) {
        const r = (await db.get("SELECT * FROM clients WHERE client_id = ? LIMIT 1", [client_id])) as Row | null;
        return r ? { ...r, callbacks: json(r.callbacks, []) } : null;
      },
      async get(tenant_id: string, client_id: string) {
        const r = (await db.get("SELECT * FROM clients WHERE tenant_id = ? AND client_id = ?", [tenant_id, client_id])) as Row | null;
        return r ? { ...r, callbacks: json(r.callbacks, []), web_origins: json(r.web_origins, []), allowed_logout_urls: json(r.allowed_logout_urls, []), allowed_origins: json(r.allowed_origins, []) } : null;
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
        return (await db.get("SELECT * FROM tenants WHERE id = ?", [id])) ?? null;
      },
      async list() {
        const tenants = (await db.all("SELECT * FROM tenants ORDER BY id"));
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
        return ((await db.get("SELECT * FROM codes WHERE tenant_id = ? AND code_id = ? AND code_type = ?", [tenant_id, code_id, code_type])) as Row | undefined) ?? null;
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
