import type { Database } from "bun:sqlite";
import type { DataAdapters } from "@authhero/adapter-interfaces";

// A real `open` factory for the tests: AuthHero-shaped adapters over bun:sqlite for the namespaces
// the module touches (connections, email providers, clients, tenants, keys, custom domains). It stands in for
// AuthHero's SQL adapter, which does not install here; the module under test is the dispatch and
// fallback around it. Tables AuthHero's migrations would add are created on open.
const EXTRA_TABLES = `
CREATE TABLE IF NOT EXISTS email_providers (tenant_id TEXT PRIMARY KEY, name TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, default_from_address TEXT, credentials TEXT NOT NULL DEFAULT '{}', settings TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clients (client_id TEXT NOT NULL, tenant_id TEXT NOT NULL, name TEXT NOT NULL, callbacks TEXT NOT NULL DEFAULT '[]', web_origins TEXT NOT NULL DEFAULT '[]', allowed_logout_urls TEXT NOT NULL DEFAULT '[]', allowed_origins TEXT NOT NULL DEFAULT '[]', PRIMARY KEY (tenant_id, client_id));
CREATE TABLE IF NOT EXISTS hooks (hook_id TEXT NOT NULL, tenant_id TEXT NOT NULL, url TEXT NOT NULL, trigger_id TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, metadata TEXT, created_at TEXT NOT NULL DEFAULT '', PRIMARY KEY (tenant_id, hook_id));
CREATE TABLE IF NOT EXISTS keys (kid TEXT PRIMARY KEY, tenant_id TEXT, cert TEXT, type TEXT NOT NULL DEFAULT 'jwt_signing', created_at TEXT NOT NULL DEFAULT '');
`;

type Row = Record<string, unknown>;
const json = (v: unknown, fallback: unknown) => (typeof v === "string" ? JSON.parse(v) : fallback);

/**
 * `transaction` as AuthHero's kysely adapter has it: the callback gets a second adapter set bound to
 * the transaction, whose own `transaction` runs a nested callback in the same transaction (no
 * savepoint); a throw rolls everything back.
 */
export function sqliteAdapters(db: Database, inTransaction = false): DataAdapters {
  db.exec(EXTRA_TABLES);
  const now = () => new Date().toISOString();
  const connection = (r: Row) => ({ ...r, options: json(r.options, {}), metadata: json(r.metadata, undefined) });
  const adapters = {
    connections: {
      async create(tenant_id: string, c: Row) {
        db.query("INSERT INTO connections (id, tenant_id, name, strategy, options, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)").run(
          c.id as string,
          tenant_id,
          c.name as string,
          c.strategy as string,
          JSON.stringify(c.options ?? {}),
          now(),
          now(),
        );
        return connection(db.query("SELECT * FROM connections WHERE tenant_id = ? AND id = ?").get(tenant_id, c.id as string) as Row);
      },
      async get(tenant_id: string, id: string) {
        const r = db.query("SELECT * FROM connections WHERE tenant_id = ? AND id = ?").get(tenant_id, id) as Row | null;
        return r ? connection(r) : null;
      },
      async list(tenant_id: string) {
        const rows = db.query("SELECT * FROM connections WHERE tenant_id = ? ORDER BY id").all(tenant_id) as Row[];
        return { connections: rows.map(connection), start: 0, limit: rows.length, length: rows.length };
      },
      async remove(tenant_id: string, id: string) {
        return db.query("DELETE FROM connections WHERE tenant_id = ? AND id = ?").run(tenant_id, id).changes > 0;
      },
      async update(tenant_id: string, id: string, c: Row) {
        return db.query("UPDATE connections SET options = ? WHERE tenant_id = ? AND id = ?").run(JSON.stringify(c.options ?? {}), tenant_id, id).changes > 0;
      },
    },
    resourceServers: {
      async create(tenant_id: string, r: Row) {
        db.query("INSERT INTO resource_servers (id, tenant_id, identifier, name, scopes, is_system, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)").run(
          r.id as string,
          tenant_id,
          r.identifier as string,
          r.name as string,
          JSON.stringify(r.scopes ?? []),
          r.is_system ? 1 : 0,
          now(),
          now(),
        );
      },
      async get(tenant_id: string, id: string) {
        const r = db.query("SELECT * FROM resource_servers WHERE tenant_id = ? AND id = ?").get(tenant_id, id) as Row | null;
        return r ? { ...r, scopes: json(r.scopes, []), is_system: r.is_system === 1 } : null;
      },
      async list(tenant_id: string) {
        const rows = (db.query("SELECT * FROM resource_servers WHERE tenant_id = ? ORDER BY id").all(tenant_id) as Row[]).map((r) => ({ ...r, scopes: json(r.scopes, []), is_system: r.is_system === 1 }));
        return { resource_servers: rows, start: 0, limit: rows.length, length: rows.length };
      },
    },
    hooks: {
      async create(tenant_id: string, h: Row) {
        db.query("INSERT INTO hooks (hook_id, tenant_id, url, trigger_id, metadata) VALUES (?, ?, ?, ?, ?)").run(h.hook_id as string, tenant_id, h.url as string, h.trigger_id as string, JSON.stringify(h.metadata ?? {}));
      },
      async get(tenant_id: string, id: string) {
        const r = db.query("SELECT * FROM hooks WHERE tenant_id = ? AND hook_id = ?").get(tenant_id, id) as Row | null;
        return r ? { ...r, metadata: json(r.metadata, {}) } : null;
      },
      async list(tenant_id: string) {
        const rows = (db.query("SELECT * FROM hooks WHERE tenant_id = ? ORDER BY hook_id").all(tenant_id) as Row[]).map((r) => ({ ...r, metadata: json(r.metadata, {}) }));
        return { hooks: rows, start: 0, limit: rows.length, length: rows.length };
      },
    },
    emailProviders: {
      async create(tenant_id: string, p: Row) {
        db.query("INSERT INTO email_providers (tenant_id, name, credentials, created_at, updated_at) VALUES (?, ?, ?, ?, ?)").run(tenant_id, p.name as string, JSON.stringify(p.credentials ?? {}), now(), now());
      },
      async get(tenant_id: string) {
        const r = db.query("SELECT * FROM email_providers WHERE tenant_id = ?").get(tenant_id) as Row | null;
        return r ? { ...r, credentials: json(r.credentials, {}) } : null;
      },
      async update() {},
      async remove() {},
    },
    clients: {
      async create(tenant_id: string, c: Row) {
        db.query("INSERT INTO clients (client_id, tenant_id, name) VALUES (?, ?, ?)").run(c.client_id as string, tenant_id, (c.name as string) ?? "app");
        return { client_id: c.client_id, tenant_id, name: c.name };
      },
      async getByClientId(client_id: string) {
        const r = db.query("SELECT * FROM clients WHERE client_id = ? LIMIT 1").get(client_id) as Row | null;
        return r ? { ...r, callbacks: json(r.callbacks, []) } : null;
      },
      async get(tenant_id: string, client_id: string) {
        const r = db.query("SELECT * FROM clients WHERE tenant_id = ? AND client_id = ?").get(tenant_id, client_id) as Row | null;
        return r ? { ...r, callbacks: json(r.callbacks, []), web_origins: json(r.web_origins, []), allowed_logout_urls: json(r.allowed_logout_urls, []), allowed_origins: json(r.allowed_origins, []) } : null;
      },
    },
    clientConnections: {
      // Every connection of the tenant is enabled for every client in this stand-in.
      async listByClient(tenant_id: string) {
        return (db.query("SELECT * FROM connections WHERE tenant_id = ? ORDER BY id").all(tenant_id) as Row[]).map(connection);
      },
    },
    tenants: {
      async get(id: string) {
        return db.query("SELECT * FROM tenants WHERE id = ?").get(id);
      },
      async list() {
        const tenants = db.query("SELECT * FROM tenants ORDER BY id").all();
        return { tenants, start: 0, limit: tenants.length, length: tenants.length };
      },
    },
    customDomains: {
      async list(tenant_id: string) {
        return db.query("SELECT * FROM custom_domains WHERE tenant_id = ? ORDER BY domain").all(tenant_id);
      },
    },
    keys: {
      async list() {
        const signingKeys = db.query("SELECT * FROM keys ORDER BY kid").all();
        return { signingKeys, start: 0, limit: signingKeys.length, length: signingKeys.length };
      },
      async create(key: Row) {
        db.query("INSERT INTO keys (kid, tenant_id, cert) VALUES (?, ?, ?)").run(key.kid as string, (key.tenant_id as string | undefined) ?? null, (key.cert as string) ?? "");
      },
    },
    async transaction<T>(fn: (trx: DataAdapters) => Promise<T>): Promise<T> {
      if (inTransaction) return fn(adapters as unknown as DataAdapters);
      db.exec("BEGIN IMMEDIATE");
      try {
        const result = await fn(sqliteAdapters(db, true));
        db.exec("COMMIT");
        return result;
      } catch (err) {
        db.exec("ROLLBACK");
        throw err;
      }
    },
  };
  return adapters as unknown as DataAdapters;
}
