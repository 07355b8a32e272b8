import type { Client } from "@libsql/client/web";
import { randomUUID } from "node:crypto";
import { LibsqlDb, namespaceClient, type LibsqlServer } from "../storage/libsql.ts";
import type { MigrationPass } from "./migrate-files.ts";

export interface MigrateTenantNamespacesOptions {
  /** The libSQL server tenantgate keeps the tenants on (`--database-url`, `--database-auth-token`). */
  server: LibsqlServer;
  controlPlaneTenantId: string;
  /**
   * The host's migration of one namespace, for example AuthHero's
   * `(client) => migrateToLatest(new Kysely({ dialect: new LibsqlDialect({ client }) }))`.
   */
  migrate: (client: Client, tenantId: string) => Promise<void>;
  /** How long to wait for another host's pass to end before giving up (default 120 s). */
  lockWaitMs?: number;
  /** How long a pass's claim lasts without being renewed (after each namespace; default 60 s): a host that died mid-pass holds it no longer. */
  leaseMs?: number;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The claim on the pass: one row in the control plane (a `tenantgate_` table, so no tenant's schema copies it). */
const LEASE_TABLE = `CREATE TABLE IF NOT EXISTS tenantgate_host_migration (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  holder TEXT NOT NULL,
  expires_at REAL NOT NULL
)`;
/** The server's clock in ms, so hosts on machines whose clocks differ agree on a lease's expiry. */
const NOW = "((julianday('now') - 2440587.5) * 86400000.0)";

const BASELINE =
  "this namespace has tenantgate's own minimal schema (tenantgate was started first on this libSQL server), which AuthHero's migrations cannot take over: start the AuthHero host first on a new server, or remove the namespace";

/**
 * Brings every tenant namespace of a libSQL server to the host's schema, as migrateTenantFiles does
 * for files: the control plane first (new tenants' namespaces are made from its schema), then each
 * tenant the control plane lists, one at a time. AuthHero's migrator is neither locked nor
 * transactional on libSQL, and two hosts migrating one namespace at once collide; so a pass holds a
 * lease in the control plane (taken when free or lapsed, renewed after each namespace) and a second
 * host's pass waits for it, then finds nothing left to do. A namespace that fails is reported and
 * the pass goes on; one the server lacks (a tenant being deleted) fails the same way.
 */
export async function migrateTenantNamespaces(o: MigrateTenantNamespacesOptions): Promise<MigrationPass> {
  const pass: MigrationPass = { migrated: [], failed: [] };
  const cp = new LibsqlDb(o.server, o.controlPlaneTenantId);
  const holder = randomUUID();
  const leaseMs = o.leaseMs ?? 60_000;
  const claim = () =>
    cp.run(
      `INSERT INTO tenantgate_host_migration (id, holder, expires_at) VALUES (1, ?, ${NOW} + ?)
       ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE tenantgate_host_migration.holder = excluded.holder OR tenantgate_host_migration.expires_at < ${NOW}`,
      [holder, leaseMs],
    );
  try {
    try {
      await cp.run(LEASE_TABLE);
    } catch (err) {
      pass.failed.push({ tenantId: o.controlPlaneTenantId, error: message(err) });
      return pass;
    }
    const deadline = Date.now() + (o.lockWaitMs ?? 120_000);
    while ((await claim()) === 0) {
      if (Date.now() > deadline) throw new Error(`another host's migration pass over namespace "${o.controlPlaneTenantId}" did not end in time`);
      await Bun.sleep(250);
    }
    try {
      const ids = await tenantIds(cp, o.controlPlaneTenantId);
      for (const tenantId of [o.controlPlaneTenantId, ...ids]) {
        const client = namespaceClient(o.server, tenantId);
        try {
          if (await madeByTenantgateBaseline(new LibsqlDb(o.server, tenantId, undefined, client))) throw new Error(BASELINE);
          await o.migrate(client, tenantId);
          pass.migrated.push(tenantId);
        } catch (err) {
          pass.failed.push({ tenantId, error: message(err) });
        } finally {
          client.close();
        }
        if ((await claim()) === 0) throw new Error(`the migration pass lost its lease in namespace "${o.controlPlaneTenantId}" (it took longer than ${leaseMs} ms for one namespace)`);
      }
    } finally {
      await cp.run("DELETE FROM tenantgate_host_migration WHERE holder = ?", [holder]).catch(() => {});
    }
  } finally {
    cp.close();
  }
  return pass;
}

/** The tenants the control plane lists (none before AuthHero's migrations made its `tenants`). */
async function tenantIds(cp: LibsqlDb, controlPlane: string): Promise<string[]> {
  if (!(await cp.get("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'tenants'"))) return [];
  const rows = await cp.all<{ id: string }>("SELECT id FROM tenants ORDER BY id");
  return rows.map((r) => r.id).filter((id) => id !== controlPlane && LABEL.test(id));
}

/** AuthHero's tables without AuthHero's record of having made them: tenantgate's standalone baseline. */
async function madeByTenantgateBaseline(db: LibsqlDb): Promise<boolean> {
  const tables = new Set((await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('tenants', 'kysely_migration')")).map((r) => r.name));
  if (!tables.has("tenants")) return false;
  if (!tables.has("kysely_migration")) return true;
  return ((await db.get<{ n: number }>("SELECT count(*) AS n FROM kysely_migration"))?.n ?? 0) === 0;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
