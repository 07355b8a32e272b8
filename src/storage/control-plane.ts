import type { Database } from "bun:sqlite";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { BASELINE_SQL, REQUIRED_COLUMNS } from "./baseline.ts";
import { holdExclusiveLock } from "./exclusive-lock.ts";
import { writeProblem } from "./write-access.ts";
import { assertColumns, columnsOf, forgetColumns, hasTable, insertRow, updateRows } from "./columns.ts";
import { migrateControlPlane } from "./migrate.ts";
import { BunSqlDb, type SqlDb } from "./sql.ts";
import { openSqlite } from "./sqlite.ts";
import { markOrigin, originOf } from "./tenant-tables.ts";

export interface TenantRow {
  id: string;
  friendly_name: string | null;
  created_at: string;
  updated_at: string;
  [column: string]: unknown;
}

export interface OrganizationRef {
  id: string;
  name: string;
}

export interface DomainRow {
  custom_domain_id: string;
  tenant_id: string;
  domain: string;
  status: string;
  created_at: string;
}

export type DomainStatus = "ready" | "pending_verification";

export interface TenantPage {
  tenants: TenantRow[];
  total: number;
}

/**
 * The control-plane file: the registry of tenants, their organizations, memberships and custom
 * domains (AuthHero's tables), plus tenantgate's own tables. Every read and write tenantgate makes on
 * those AuthHero tables goes through here, with the columns AuthHero's schema really has.
 */
const LOCK_FILE = ".tenantgate-control-plane.lock";

export class ControlPlane {
  readonly db: Database;
  /** The same connection as an SqlDb: what the gateway's asynchronous code reads and writes through. */
  readonly sql: SqlDb;
  /** True when this process created the file (no AuthHero schema was there). */
  readonly createdBaseline: boolean;

  constructor(
    readonly path: string,
    readonly id: string,
    opts: { busyTimeoutMs?: number; migrationWaitMs?: number } = {},
  ) {
    mkdirSync(dirname(path), { recursive: true });
    const unwritable = writeProblem(this.writePaths());
    if (unwritable) throw new Error(`the control plane cannot be opened for writing: ${unwritable}`);
    // Creating and migrating checks, then changes, the schema: two processes starting on a new data
    // directory at once would both see "not yet" and one would fail, so it is done under a lock.
    const lock = holdExclusiveLock(join(dirname(path), LOCK_FILE), opts.migrationWaitMs ?? 60_000);
    try {
      const fresh = !existsSync(path);
      this.db = openSqlite(path, { create: true, busyTimeoutMs: opts.busyTimeoutMs });
      this.sql = new BunSqlDb(this.db);
      const hasTenants = columnsOf(this.db, "tenants").size > 0;
      this.createdBaseline = fresh || !hasTenants;
      if (this.createdBaseline) this.db.transaction(() => this.db.exec(BASELINE_SQL))();
      migrateControlPlane(this.db);
      forgetColumns(this.db);
      assertColumns(this.db, REQUIRED_COLUMNS, path);
      if (!this.tenant(id)) {
        const now = new Date().toISOString();
        insertRow(this.db, "tenants", { id, friendly_name: "Control plane", created_at: now, updated_at: now });
      }
      // The deployment's identity is made with its control plane (and comes back with a restored one).
      if (!originOf(this.db)) markOrigin(this.db, { deploymentId: randomUUID(), tenantId: id });
    } finally {
      lock.release();
    }
  }

  /** This deployment's identity: the control plane's own mark, which its tenant files and their backups carry. */
  deploymentId(): string {
    const origin = originOf(this.db);
    if (!origin) throw new Error(`the control plane ${this.path} has no tenantgate_origin row; open it with tenantgate to make one`);
    return origin.deploymentId;
  }

  /** What must stay writable for the gateway to write the control plane: its folder, lock, file, WAL and shared memory. */
  writePaths(): string[] {
    const dir = dirname(this.path);
    return [dir, join(dir, LOCK_FILE), this.path, `${this.path}-wal`, `${this.path}-shm`];
  }

  /** Changes whenever another connection (AuthHero, a script) commits to this file. */
  dataVersion(): number {
    return (this.db.query("PRAGMA data_version").get() as { data_version: number }).data_version;
  }

  tenantIds(): string[] {
    return (this.db.query("SELECT id FROM tenants").all() as { id: string }[]).map((r) => r.id);
  }

  tenant(id: string): TenantRow | undefined {
    return (this.db.query("SELECT * FROM tenants WHERE id = ?").get(id) as TenantRow | null) ?? undefined;
  }

  /** Child tenants, newest first, optionally limited to `only` and matched by `q` on id or friendly name. */
  listTenants(opts: { q?: string; page: number; perPage: number; only?: readonly string[] }): TenantPage {
    const where = ["id != ?"];
    const args: (string | number)[] = [this.id];
    if (opts.q) {
      where.push(`(id LIKE ? ESCAPE '\\' OR friendly_name LIKE ? ESCAPE '\\')`);
      const like = `%${opts.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      args.push(like, like);
    }
    if (opts.only) {
      if (opts.only.length === 0) return { tenants: [], total: 0 };
      where.push(`id IN (SELECT value FROM json_each(?))`);
      args.push(JSON.stringify(opts.only));
    }
    const clause = where.join(" AND ");
    const total = (this.db.query(`SELECT count(*) AS n FROM tenants WHERE ${clause}`).get(...args) as { n: number }).n;
    const tenants = this.db
      .query(`SELECT * FROM tenants WHERE ${clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?`)
      .all(...args, opts.perPage, opts.page * opts.perPage) as TenantRow[];
    return { tenants, total };
  }

  insertTenant(row: Record<string, unknown>): void {
    insertRow(this.db, "tenants", row);
  }

  updateTenant(id: string, set: Record<string, unknown>): boolean {
    return updateRows(this.db, "tenants", set, { id }) > 0;
  }

  deleteTenant(id: string): void {
    this.db.query("DELETE FROM custom_domains WHERE tenant_id = ?").run(id);
    this.db.query("DELETE FROM tenants WHERE id = ?").run(id);
  }

  organizations(): OrganizationRef[] {
    return this.db.query("SELECT id, name FROM organizations WHERE tenant_id = ?").all(this.id) as OrganizationRef[];
  }

  organizationOf(tenantId: string): OrganizationRef | undefined {
    return (
      (this.db.query("SELECT id, name FROM organizations WHERE tenant_id = ? AND name = ?").get(this.id, tenantId) as OrganizationRef | null) ??
      undefined
    );
  }

  insertOrganization(org: { id: string; name: string; display_name: string | null }): void {
    const now = new Date().toISOString();
    insertRow(this.db, "organizations", { ...org, tenant_id: this.id, created_at: now, updated_at: now });
  }

  /**
   * Deletes the organization, its memberships and the roles held in it (explicitly: the FK cascade
   * needs foreign_keys on in every writer, and AuthHero's `user_roles` has no key to organizations).
   */
  deleteOrganization(orgId: string): void {
    this.db.query("DELETE FROM user_organizations WHERE organization_id = ?").run(orgId);
    if (hasTable(this.db, "user_roles")) this.db.query("DELETE FROM user_roles WHERE tenant_id = ? AND organization_id = ?").run(this.id, orgId);
    this.db.query("DELETE FROM organizations WHERE id = ?").run(orgId);
  }

  /**
   * Makes the user a member of the organization; false when the user is not one of the control
   * plane's users in a file where memberships must name one (AuthHero's schema references `users`),
   * as with a token whose subject AuthHero never stored. The seed's provisioning skips it then too.
   */
  addMember(membership: { id: string; organization_id: string; user_id: string }): boolean {
    if (hasTable(this.db, "users") && this.db.query("SELECT 1 FROM users WHERE tenant_id = ? AND user_id = ?").get(this.id, membership.user_id) === null) return false;
    const now = new Date().toISOString();
    insertRow(this.db, "user_organizations", { ...membership, tenant_id: this.id, created_at: now, updated_at: now }, "INSERT OR IGNORE");
    return true;
  }

  /**
   * The id of the control plane's role `name`, holding every scope of the resource server `audience`
   * as a permission; made when missing, as AuthHero's seed makes its "Tenant Admin". Undefined where
   * the control plane has no such resource server or no role tables (a file tenantgate made alone).
   */
  ensureRole(name: string, description: string, audience: string, newId: () => string): string | undefined {
    if (!hasTable(this.db, "roles") || !hasTable(this.db, "role_permissions") || !hasTable(this.db, "resource_servers")) return undefined;
    const found = this.db.query("SELECT id FROM roles WHERE tenant_id = ? AND name = ?").get(this.id, name) as { id: string } | null;
    if (found) return found.id;
    const server = this.db.query("SELECT scopes FROM resource_servers WHERE tenant_id = ? AND identifier = ?").get(this.id, audience) as { scopes: string | null } | null;
    if (!server) return undefined;
    const id = newId();
    const now = new Date().toISOString();
    insertRow(this.db, "roles", { id, tenant_id: this.id, name, description, created_at: now, updated_at: now });
    for (const permission of scopeValues(server.scopes)) {
      insertRow(this.db, "role_permissions", { tenant_id: this.id, role_id: id, resource_server_identifier: audience, permission_name: permission, created_at: now });
    }
    return id;
  }

  /** Gives the user the role within the organization (AuthHero's organization-scoped role). */
  assignOrganizationRole(userId: string, roleId: string, orgId: string): void {
    if (!hasTable(this.db, "user_roles")) return;
    insertRow(this.db, "user_roles", { tenant_id: this.id, user_id: userId, role_id: roleId, organization_id: orgId, created_at: new Date().toISOString() }, "INSERT OR IGNORE");
  }

  /** Tenant ids whose organizations the user belongs to. */
  tenantsOfUser(userId: string): string[] {
    const rows = this.db
      .query(
        `SELECT o.name FROM user_organizations m JOIN organizations o ON o.id = m.organization_id
         WHERE m.user_id = ? AND o.tenant_id = ?`,
      )
      .all(userId, this.id) as { name: string }[];
    return rows.map((r) => r.name);
  }

  domains(tenantId?: string): DomainRow[] {
    const sql = "SELECT custom_domain_id, tenant_id, domain, status, created_at FROM custom_domains";
    return (tenantId === undefined ? this.db.query(sql).all() : this.db.query(`${sql} WHERE tenant_id = ?`).all(tenantId)) as DomainRow[];
  }

  domain(domain: string): DomainRow | undefined {
    return (
      (this.db.query("SELECT custom_domain_id, tenant_id, domain, status, created_at FROM custom_domains WHERE domain = ?").get(domain) as DomainRow | null) ??
      undefined
    );
  }

  /** `status` is AuthHero's: "ready" routes the domain; "pending_verification" waits for the control plane. */
  insertDomain(row: { custom_domain_id: string; tenant_id: string; domain: string; status: DomainStatus }): void {
    const now = new Date().toISOString();
    insertRow(this.db, "custom_domains", {
      ...row,
      primary: 0,
      type: "self_managed_certs",
      created_at: now,
      updated_at: now,
    });
  }

  approveDomain(tenantId: string, domain: string): void {
    this.db.query("UPDATE custom_domains SET status = 'ready', updated_at = ? WHERE tenant_id = ? AND domain = ?").run(new Date().toISOString(), tenantId, domain);
  }

  deleteDomain(tenantId: string, domain: string): boolean {
    return this.db.query("DELETE FROM custom_domains WHERE tenant_id = ? AND domain = ?").run(tenantId, domain).changes > 0;
  }

  close(): void {
    this.db.close(false);
  }
}

/** The scope names of a resource server's `scopes` column (AuthHero's JSON list of `{value, description}`). */
export function scopeValues(scopes: string | null): string[] {
  try {
    const list: unknown = JSON.parse(scopes ?? "[]");
    return Array.isArray(list) ? list.map((s) => (s as { value?: unknown })?.value).filter((v): v is string => typeof v === "string") : [];
  } catch {
    return [];
  }
}
