import type { Database } from "bun:sqlite";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { BASELINE_SQL, REQUIRED_COLUMNS } from "./baseline.ts";
import { holdExclusiveLock } from "./exclusive-lock.ts";
import { writeProblem } from "./write-access.ts";
import { assertColumns, assertColumnsIn, columnsOf, forgetColumns, hasTableIn, insertRow } from "./columns.ts";
import { LibsqlDb, type LibsqlServer, type SqldAdmin } from "./libsql.ts";
import { insertInto, updateIn } from "./sql-columns.ts";
import { migrateControlPlane, migrateControlPlaneSql } from "./migrate.ts";
import { BunSqlDb, type SqlDb, type SqlWriter } from "./sql.ts";
import { openSqlite } from "./sqlite.ts";
import { markOrigin, originMark, originOf } from "./tenant-tables.ts";

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
 * The control plane's rows, read and written through one writer (the database, or a transaction's):
 * the registry of tenants, their organizations, memberships and custom domains (AuthHero's tables).
 * Every read and write tenantgate makes on those AuthHero tables goes through here, with the
 * columns AuthHero's schema really has.
 */
export class ControlPlaneRows {
  constructor(
    /** What the rows are read and written through: for a journal step inside the same transaction. */
    readonly writer: SqlWriter,
    readonly id: string,
  ) {}

  /** This deployment's identity: the control plane's own mark, which its tenant files and their backups carry. */
  async deploymentId(): Promise<string> {
    const row = (await hasTableIn(this.writer, "tenantgate_origin"))
      ? await this.writer.get<{ deployment_id: string }>("SELECT deployment_id FROM tenantgate_origin WHERE id = 1")
      : undefined;
    if (!row) throw new Error(`the control plane "${this.id}" has no tenantgate_origin row; open it with tenantgate to make one`);
    return row.deployment_id;
  }

  async tenantIds(): Promise<string[]> {
    return (await this.writer.all<{ id: string }>("SELECT id FROM tenants")).map((r) => r.id);
  }

  tenant(id: string): Promise<TenantRow | undefined> {
    return this.writer.get<TenantRow>("SELECT * FROM tenants WHERE id = ?", [id]);
  }

  /** Child tenants, newest first, optionally limited to `only` and matched by `q` on id or friendly name. */
  async listTenants(opts: { q?: string; page: number; perPage: number; only?: readonly string[] }): Promise<TenantPage> {
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
    const total = (await this.writer.get<{ n: number }>(`SELECT count(*) AS n FROM tenants WHERE ${clause}`, args))?.n ?? 0;
    const tenants = await this.writer.all<TenantRow>(`SELECT * FROM tenants WHERE ${clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?`, [
      ...args,
      opts.perPage,
      opts.page * opts.perPage,
    ]);
    return { tenants, total };
  }

  async insertTenant(row: Record<string, unknown>): Promise<void> {
    await insertInto(this.writer, "tenants", row);
  }

  async updateTenant(id: string, set: Record<string, unknown>): Promise<boolean> {
    return (await updateIn(this.writer, "tenants", set, { id })) > 0;
  }

  async deleteTenant(id: string): Promise<void> {
    await this.writer.run("DELETE FROM custom_domains WHERE tenant_id = ?", [id]);
    await this.writer.run("DELETE FROM tenants WHERE id = ?", [id]);
  }

  organizations(): Promise<OrganizationRef[]> {
    return this.writer.all<OrganizationRef>("SELECT id, name FROM organizations WHERE tenant_id = ?", [this.id]);
  }

  organizationOf(tenantId: string): Promise<OrganizationRef | undefined> {
    return this.writer.get<OrganizationRef>("SELECT id, name FROM organizations WHERE tenant_id = ? AND name = ?", [this.id, tenantId]);
  }

  async insertOrganization(org: { id: string; name: string; display_name: string | null }): Promise<void> {
    const now = new Date().toISOString();
    await insertInto(this.writer, "organizations", { ...org, tenant_id: this.id, created_at: now, updated_at: now });
  }

  /**
   * Deletes the organization, its memberships and the roles held in it (explicitly: the FK cascade
   * needs foreign_keys on in every writer, and AuthHero's `user_roles` has no key to organizations).
   */
  async deleteOrganization(orgId: string): Promise<void> {
    await this.writer.run("DELETE FROM user_organizations WHERE organization_id = ?", [orgId]);
    if (await hasTableIn(this.writer, "user_roles")) await this.writer.run("DELETE FROM user_roles WHERE tenant_id = ? AND organization_id = ?", [this.id, orgId]);
    await this.writer.run("DELETE FROM organizations WHERE id = ?", [orgId]);
  }

  /**
   * Makes the user a member of the organization; false when the user is not one of the control
   * plane's users in a file where memberships must name one (AuthHero's schema references `users`),
   * as with a token whose subject AuthHero never stored. The seed's provisioning skips it then too.
   */
  async addMember(membership: { id: string; organization_id: string; user_id: string }): Promise<boolean> {
    if ((await hasTableIn(this.writer, "users")) && !(await this.writer.get("SELECT 1 AS found FROM users WHERE tenant_id = ? AND user_id = ?", [this.id, membership.user_id])))
      return false;
    const now = new Date().toISOString();
    await insertInto(this.writer, "user_organizations", { ...membership, tenant_id: this.id, created_at: now, updated_at: now }, "INSERT OR IGNORE");
    return true;
  }

  /**
   * The id of the control plane's role `name`, holding every scope of the resource server `audience`
   * as a permission; made when missing, as AuthHero's seed makes its "Tenant Admin". Undefined where
   * the control plane has no such resource server or no role tables (a file tenantgate made alone).
   */
  async ensureRole(name: string, description: string, audience: string, newId: () => string): Promise<string | undefined> {
    for (const table of ["roles", "role_permissions", "resource_servers"]) if (!(await hasTableIn(this.writer, table))) return undefined;
    const found = await this.writer.get<{ id: string }>("SELECT id FROM roles WHERE tenant_id = ? AND name = ?", [this.id, name]);
    if (found) return found.id;
    const server = await this.writer.get<{ scopes: string | null }>("SELECT scopes FROM resource_servers WHERE tenant_id = ? AND identifier = ?", [this.id, audience]);
    if (!server) return undefined;
    const id = newId();
    const now = new Date().toISOString();
    await insertInto(this.writer, "roles", { id, tenant_id: this.id, name, description, created_at: now, updated_at: now });
    for (const permission of scopeValues(server.scopes)) {
      await insertInto(this.writer, "role_permissions", { tenant_id: this.id, role_id: id, resource_server_identifier: audience, permission_name: permission, created_at: now });
    }
    return id;
  }

  /** Gives the user the role within the organization (AuthHero's organization-scoped role). */
  async assignOrganizationRole(userId: string, roleId: string, orgId: string): Promise<void> {
    if (!(await hasTableIn(this.writer, "user_roles"))) return;
    await insertInto(this.writer, "user_roles", { tenant_id: this.id, user_id: userId, role_id: roleId, organization_id: orgId, created_at: new Date().toISOString() }, "INSERT OR IGNORE");
  }

  /** Tenant ids whose organizations the user belongs to. */
  async tenantsOfUser(userId: string): Promise<string[]> {
    const rows = await this.writer.all<{ name: string }>(
      `SELECT o.name FROM user_organizations m JOIN organizations o ON o.id = m.organization_id
       WHERE m.user_id = ? AND o.tenant_id = ?`,
      [userId, this.id],
    );
    return rows.map((r) => r.name);
  }

  domains(tenantId?: string): Promise<DomainRow[]> {
    const sql = "SELECT custom_domain_id, tenant_id, domain, status, created_at FROM custom_domains";
    return tenantId === undefined ? this.writer.all<DomainRow>(sql) : this.writer.all<DomainRow>(`${sql} WHERE tenant_id = ?`, [tenantId]);
  }

  domain(domain: string): Promise<DomainRow | undefined> {
    return this.writer.get<DomainRow>("SELECT custom_domain_id, tenant_id, domain, status, created_at FROM custom_domains WHERE domain = ?", [domain]);
  }

  /** `status` is AuthHero's: "ready" routes the domain; "pending_verification" waits for the control plane. */
  async insertDomain(row: { custom_domain_id: string; tenant_id: string; domain: string; status: DomainStatus }): Promise<void> {
    const now = new Date().toISOString();
    await insertInto(this.writer, "custom_domains", { ...row, primary: 0, type: "self_managed_certs", created_at: now, updated_at: now });
  }

  async approveDomain(tenantId: string, domain: string): Promise<void> {
    await this.writer.run("UPDATE custom_domains SET status = 'ready', updated_at = ? WHERE tenant_id = ? AND domain = ?", [new Date().toISOString(), tenantId, domain]);
  }

  async deleteDomain(tenantId: string, domain: string): Promise<boolean> {
    return (await this.writer.run("DELETE FROM custom_domains WHERE tenant_id = ? AND domain = ?", [tenantId, domain])) > 0;
  }
}

/**
 * The control plane's database: its rows (ControlPlaneRows, through the database itself), writes of
 * several rows as one transaction, and where it is. `file` is the local SQLite file's connection
 * when the control plane is one (its data_version and file checks); undefined on a libSQL server.
 */
export class ControlPlane extends ControlPlaneRows {
  constructor(
    readonly sql: SqlDb,
    id: string,
    /** Where it is, for messages: the file's path, or the server's namespace. */
    readonly path: string,
    readonly file?: { db: Database; createdBaseline: boolean },
  ) {
    super(sql, id);
  }

  /** `fn`'s reads and writes, committed together or not at all. */
  transaction<T>(fn: (rows: ControlPlaneRows) => Promise<T>): Promise<T> {
    return this.sql.transaction((tx) => fn(new ControlPlaneRows(tx, this.id)));
  }

  /** Changes whenever another connection (AuthHero, a script) commits to the file. */
  dataVersion(): number {
    if (!this.file) throw new Error(`the control plane ${this.path} is not a local file: it has no data_version to read`);
    return (this.file.db.query("PRAGMA data_version").get() as { data_version: number }).data_version;
  }

  /** True when this process created the control plane's baseline (no AuthHero schema was there). */
  get createdBaseline(): boolean {
    return this.file?.createdBaseline ?? false;
  }

  /** What must stay writable for the gateway to write the control plane: its folder, lock, file, WAL and shared memory. */
  writePaths(): string[] {
    if (!this.file) return [];
    const dir = dirname(this.path);
    return [dir, join(dir, LOCK_FILE), this.path, `${this.path}-wal`, `${this.path}-shm`];
  }

  close(): void {
    this.sql.close();
  }
}

const LOCK_FILE = ".tenantgate-control-plane.lock";

/**
 * Opens the control-plane file, creating the baseline where there is none and migrating it, under a
 * lock: two processes starting on a new data directory at once would both see "not yet" and one
 * would fail.
 */
export function openControlPlaneFile(path: string, id: string, opts: { busyTimeoutMs?: number; migrationWaitMs?: number } = {}): ControlPlane {
  mkdirSync(dirname(path), { recursive: true });
  const dir = dirname(path);
  const unwritable = writeProblem([dir, join(dir, LOCK_FILE), path, `${path}-wal`, `${path}-shm`]);
  if (unwritable) throw new Error(`the control plane cannot be opened for writing: ${unwritable}`);
  const lock = holdExclusiveLock(join(dir, LOCK_FILE), opts.migrationWaitMs ?? 60_000);
  try {
    const fresh = !existsSync(path);
    const db = openSqlite(path, { create: true, busyTimeoutMs: opts.busyTimeoutMs });
    const createdBaseline = fresh || columnsOf(db, "tenants").size === 0;
    if (createdBaseline) db.transaction(() => db.exec(BASELINE_SQL))();
    migrateControlPlane(db);
    forgetColumns(db);
    assertColumns(db, REQUIRED_COLUMNS, path);
    if (!db.query("SELECT 1 FROM tenants WHERE id = ?").get(id)) {
      const now = new Date().toISOString();
      insertRow(db, "tenants", { id, friendly_name: "Control plane", created_at: now, updated_at: now });
    }
    // The deployment's identity is made with its control plane (and comes back with a restored one).
    if (!originOf(db)) markOrigin(db, { deploymentId: randomUUID(), tenantId: id });
    return new ControlPlane(new BunSqlDb(db), id, path, { db, createdBaseline });
  } finally {
    lock.release();
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

/**
 * Opens the control plane as a namespace of a libSQL server, making it (the namespace, the baseline
 * tables tenantgate needs, its own migrated tables, its tenant row and the deployment's identity)
 * where the server has none: a new server works before AuthHero ever ran, as a new data directory
 * does. Every step may race another gateway's first start, so each is one that two may both do.
 */
export async function openControlPlaneNamespace(server: LibsqlServer, admin: SqldAdmin, id: string): Promise<ControlPlane> {
  await admin.create(id);
  const db = new LibsqlDb(server, id);
  if (!(await hasTableIn(db, "tenants"))) await db.script(BASELINE_SQL);
  await migrateControlPlaneSql(db);
  await assertColumnsIn(db, REQUIRED_COLUMNS, `control-plane namespace "${id}"`);
  const now = new Date().toISOString();
  await insertInto(db, "tenants", { id, friendly_name: "Control plane", created_at: now, updated_at: now }, "INSERT OR IGNORE");
  // The first gateway's identity stays: a second starting at once must not replace it with its own.
  await db.batch(originMark({ deploymentId: randomUUID(), tenantId: id }, { keep: true }));
  return new ControlPlane(db, id, `namespace "${id}" of ${server.url}`);
}
