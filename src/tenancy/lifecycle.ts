import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { HttpError } from "../http-error.ts";
import { createFromTemplate, readSchemaTemplate, type SchemaTemplate } from "../storage/index.ts";
import { firstLoginIds, holdsClients, MANAGEMENT_API, provisionFirstLogin, TENANT_ADMIN_ROLE, type FirstLoginIds } from "./first-login.ts";
import { insertRow, markOrigin } from "../storage/files.ts";
import type { ControlPlane, TenantRow } from "../storage/index.ts";
import type { HandlePool } from "../storage/files.ts";
import { probeDatabase } from "../storage/files.ts";
import { BunSqlDb, immediate, openSqlite, type SqlDb } from "../storage/files.ts";
import { TenantBackups, type RestoreOptions } from "./backups.ts";
import { whyNotOwnFile } from "./file-owner.ts";
import { crashPoint } from "./crash-point.ts";
import { moveDbFiles, removeDbFiles, scratchFileOf } from "./db-files.ts";
import { isOwnerAlive } from "./process-owner.ts";
import { newMembershipId, newOrganizationId, newRoleId, newTenantId } from "./ids.ts";
import { hasStep, type Operation, type OperationJournal } from "./journal.ts";
import type { TenantRegistry } from "./registry.ts";
import { assertChildTenantId, isFileTenantId } from "./tenant-id.ts";

/** Settings a create or update may set on the tenant row; only columns AuthHero's schema has are written. */
export const TENANT_SETTINGS = [
  "friendly_name",
  "audience",
  "sender_email",
  "sender_name",
  "support_url",
  "support_email",
  "picture_url",
  "default_audience",
  "default_organization",
] as const;
export type TenantSettings = Partial<Record<(typeof TENANT_SETTINGS)[number], string | null>>;

export interface CreateTenantInput extends TenantSettings {
  id?: string;
  friendly_name: string;
  /** The user who asked, made a member of the new organization. */
  creator?: string;
}

export interface CreatedTenant {
  tenant: TenantRow;
  organization_id: string;
  operation_id: string;
}

export interface LifecycleOptions {
  cp: ControlPlane;
  pool: HandlePool;
  registry: TenantRegistry;
  journal: OperationJournal;
  /** `<data>/tenants` */
  dir: string;
  reserved: ReadonlySet<string>;
  trashRetentionMs: number;
  /** The login pages of a new tenant's Default App (AuthHero's universal login version). */
  universalLoginVersion: "1" | "2";
  log: Logger;
}

/**
 * Adds seed rows to a new or restored tenant file before it is renamed into place (the outbox's
 * snapshot), and says the sync cursor it set.
 */
export type Seeder = (db: SqlDb, tenantId: string) => Promise<number>;

/**
 * Provisioning, adoption and deprovisioning of tenants. Each is a journaled operation of idempotent
 * steps: a new file is built at a temporary path and renamed into place only after the control plane
 * lists it, and a process that dies mid-way finishes or undoes the work at its next start (`recover`).
 */
export class TenantLifecycle {
  readonly tmpDir: string;
  readonly trashDir: string;
  private seed?: Seeder;
  private readonly backups: TenantBackups;

  constructor(private readonly o: LifecycleOptions) {
    this.tmpDir = join(o.dir, ".tmp");
    this.trashDir = join(o.dir, ".trash");
    mkdirSync(this.tmpDir, { recursive: true });
    mkdirSync(this.trashDir, { recursive: true });
    this.backups = new TenantBackups({
      journal: o.journal,
      registry: o.registry,
      pool: o.pool,
      tmpDir: this.tmpDir,
      trashDir: this.trashDir,
      controlPlane: o.cp.id,
      register: (op) => this.register(op),
      friendlyNameIn: (path, id) => this.ownTenantRow(path, id)?.friendly_name,
      isRegistered: (id) => o.cp.tenant(id) !== undefined,
      organizationIdFor: (id) => o.cp.organizationOf(id)?.id ?? newOrganizationId(),
      deploymentId: () => o.cp.deploymentId(),
      repair: async (db, id) => this.seed?.(db, id),
    });
  }

  /** A checked snapshot of the tenant's file at `target` (journaled; see backups.ts). */
  backup(id: string, target: string): Operation {
    if (!isFileTenantId(id, this.o.cp.id)) throw new Error(`"${id}" is not a valid tenant id`);
    return this.backups.backup(id, target);
  }

  /** Puts a backup in place of the tenant's file, listing the tenant again if it was deleted (journaled). */
  restore(id: string, backup: string, opts: RestoreOptions = {}): Promise<Operation> {
    if (id !== this.o.cp.id) assertChildTenantId(id, this.o.reserved, this.o.cp.id);
    return this.backups.restore(id, backup, opts);
  }

  /** Who fills a new tenant file with the synced entities (set once the outbox relay exists). */
  seedWith(seeder: Seeder): void {
    this.seed = seeder;
  }

  async create(input: CreateTenantInput): Promise<CreatedTenant> {
    const { cp, registry, journal } = this.o;
    const id = input.id ?? newTenantId();
    assertChildTenantId(id, this.o.reserved, cp.id);
    if (cp.tenant(id)) throw new HttpError(409, `tenant "${id}" already exists`);
    if (existsSync(registry.pathOf(id)))
      throw new HttpError(409, `a file for tenant "${id}" is already in the data directory; adopt it or move it away first`);
    if (cp.organizationOf(id)) throw new HttpError(409, `an organization named "${id}" already exists on the control plane`);

    const settings = pickSettings(input);
    // A control plane AuthHero made holds clients: the tenant gets what its first login needs.
    const firstLogin = holdsClients(cp.db) ? firstLoginIds(this.o.universalLoginVersion) : null;
    const op = journal.begin("create", id, { ...settings, organization_id: newOrganizationId(), creator: input.creator ?? null, first_login: firstLogin });
    registry.markBusy(id, "provisioning");
    try {
      crashPoint("create:journaled");
      await this.runCreate(op);
      return { tenant: cp.tenant(id) as TenantRow, organization_id: op.input.organization_id as string, operation_id: op.id };
    } catch (err) {
      await this.undoCreate(op, err as Error);
      throw err;
    } finally {
      registry.clearBusy(id);
    }
  }

  delete(id: string, opts: { purge?: boolean } = {}): Operation {
    const { cp, registry, journal } = this.o;
    if (id === cp.id) throw new HttpError(403, "the control plane can never be deleted");
    assertChildTenantId(id, this.o.reserved, cp.id);
    if (!cp.tenant(id)) throw new HttpError(404, `tenant "${id}" does not exist`);
    const org = cp.organizationOf(id);
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
    // An id deleted, re-created and deleted again within one second must not rename over (and so
    // lose) the earlier trashed file.
    let trashPath = join(this.trashDir, `${id}.${stamp}.sqlite`);
    for (let n = 2; existsSync(trashPath); n++) trashPath = join(this.trashDir, `${id}.${stamp}-${n}.sqlite`);
    const op = journal.begin("delete", id, {
      organization_id: org?.id ?? null,
      purge: opts.purge === true,
      trash_path: trashPath,
    });
    registry.markBusy(id, "deleting");
    try {
      crashPoint("delete:journaled");
      this.runDelete(op);
    } finally {
      registry.clearBusy(id);
    }
    return journal.get(op.id) as Operation;
  }

  /**
   * Registers a tenant file that appeared in the data directory without a control-plane row. Only a
   * SQLite file with AuthHero's `tenants` table qualifies; anything else is reported, never touched.
   */
  adopt(id: string): Operation {
    const { cp, registry, journal } = this.o;
    assertChildTenantId(id, this.o.reserved, cp.id);
    if (cp.tenant(id)) throw new HttpError(409, `tenant "${id}" is already registered`);
    const path = registry.pathOf(id);
    const problem = this.adoptionProblem(path, id);
    if (problem) throw new HttpError(400, `cannot adopt ${path}: ${problem}`);
    const own = this.ownTenantRow(path, id);
    const op = journal.begin("adopt", id, {
      friendly_name: own?.friendly_name ?? id,
      organization_id: cp.organizationOf(id)?.id ?? newOrganizationId(),
    });
    registry.markBusy(id, "provisioning");
    try {
      this.register(op);
      journal.finish(op.id, "done");
    } catch (err) {
      journal.finish(op.id, "failed", (err as Error).message);
      throw err;
    } finally {
      registry.clearBusy(id);
    }
    return journal.get(op.id) as Operation;
  }

  /**
   * Finishes or undoes every operation whose process died while running it. Called at start and at
   * every rescan; work of a live process (a CLI command beside the gateway) is left to it.
   */
  async recover(): Promise<{ finished: string[]; undone: string[]; live: string[] }> {
    const result = { finished: [] as string[], undone: [] as string[], live: [] as string[] };
    for (const op of this.o.journal.running()) {
      // Another process (a CLI command beside the gateway) is doing this one right now.
      if (isOwnerAlive(op.owner)) {
        result.live.push(op.id);
        continue;
      }
      try {
        if (op.kind === "delete") {
          this.runDelete(op);
          result.finished.push(op.id);
        } else if (op.kind === "backup" || op.kind === "restore") {
          result[this.backups.recover(op)].push(op.id);
        } else if (hasStep(op, "registered") && (existsSync(this.o.registry.pathOf(op.tenantId)) || existsSync(this.tmpPath(op)))) {
          // The control plane already lists the tenant, so the file was complete: roll forward.
          await this.runCreate(op);
          result.finished.push(op.id);
        } else {
          // Not registered yet; or registered but the built file is gone (e.g. .tmp/ was wiped), so
          // there is nothing to roll forward to: undo instead of retrying forever with a listed
          // tenant that has no file and an operation that blocks every other one on it.
          const registered = hasStep(op, "registered");
          await this.undoCreate(op, new Error(registered ? "interrupted after registration and the built file is gone" : "interrupted before the tenant was registered"));
          result.undone.push(op.id);
        }
        this.o.log.warn({ op: op.id, kind: op.kind, tenant: op.tenantId }, "recovered an interrupted operation");
      } catch (err) {
        this.o.log.error({ op: op.id, err }, "could not recover an interrupted operation; will retry at next start");
      }
    }
    this.sweepTmp();
    return result;
  }

  /** Deletes trashed files older than the retention period. */
  sweepTrash(now = Date.now()): string[] {
    const removed: string[] = [];
    for (const name of readdirSync(this.trashDir)) {
      const path = join(this.trashDir, name);
      try {
        if (now - statSync(path).mtimeMs > this.o.trashRetentionMs) {
          rmSync(path, { force: true });
          removed.push(name);
        }
      } catch {
        // Gone meanwhile: nothing to sweep.
      }
    }
    return removed;
  }

  private tmpPath(op: Operation): string {
    return scratchFileOf(this.tmpDir, op);
  }

  private async runCreate(op: Operation): Promise<void> {
    const { journal, registry } = this.o;
    const tmp = this.tmpPath(op);
    const final = registry.pathOf(op.tenantId);
    if (!hasStep(op, "file-built")) {
      removeDbFiles(tmp);
      const db = createFromTemplate(tmp, this.schemaTemplate(), (db) => {
        insertRow(db, "tenants", this.tenantRow(op));
        markOrigin(db, { deploymentId: this.o.cp.deploymentId(), tenantId: op.tenantId });
      });
      try {
        // Transactions of their own: the file is at its temporary path, where nobody reads it, and
        // a build cut short is made again from the start (no "file-built" step yet).
        await this.seed?.(new BunSqlDb(db), op.tenantId);
        // After the synced copies: a synced database connection is the one the Default App uses.
        const firstLogin = op.input.first_login as FirstLoginIds | null | undefined;
        if (firstLogin) immediate(db, () => provisionFirstLogin(db, op.tenantId, firstLogin));
        db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      } finally {
        db.close(false);
      }
      journal.step(op.id, "file-built");
      crashPoint("create:file-built");
    }
    if (!hasStep(op, "registered")) {
      this.register(op);
      crashPoint("create:registered");
    }
    if (!existsSync(final)) {
      if (!existsSync(tmp)) throw new Error(`the built file ${tmp} vanished before it was moved into place`);
      renameSync(tmp, final);
      journal.step(op.id, "renamed");
      crashPoint("create:renamed");
    }
    removeDbFiles(tmp);
    registry.fileAdded(op.tenantId);
    journal.finish(op.id, "done");
  }

  /**
   * One control-plane transaction: the tenant row, its organization, the creator's membership and
   * "Tenant Admin" role in it (where the control plane has the management API), the step.
   */
  private register(op: Operation): void {
    const { cp, journal } = this.o;
    const orgId = op.input.organization_id as string;
    immediate(cp.db, () => {
      if (!cp.tenant(op.tenantId)) cp.insertTenant(this.tenantRow(op));
      if (!cp.organizationOf(op.tenantId))
        cp.insertOrganization({ id: orgId, name: op.tenantId, display_name: (op.input.friendly_name as string) ?? op.tenantId });
      const creator = op.input.creator;
      if (typeof creator === "string" && cp.addMember({ id: newMembershipId(), organization_id: orgId, user_id: creator })) {
        const role = cp.ensureRole(TENANT_ADMIN_ROLE.name, TENANT_ADMIN_ROLE.description, MANAGEMENT_API, newRoleId);
        if (role) cp.assignOrganizationRole(creator, role, orgId);
      }
      journal.step(op.id, "registered");
    });
    this.o.registry.tenantRegistered(op.tenantId, cp.organizationOf(op.tenantId)?.id ?? orgId);
  }

  private async undoCreate(op: Operation, cause: Error): Promise<void> {
    const { cp, journal } = this.o;
    const current = journal.get(op.id);
    if (!current || current.state !== "running") return;
    if (hasStep(current, "registered")) {
      // Registered means the file was complete; finishing is safer than tearing a listed tenant down.
      try {
        await this.runCreate(current);
        return;
      } catch (err) {
        this.o.log.error({ op: op.id, err }, "could not finish a registered tenant; undoing it");
      }
    }
    immediate(cp.db, () => {
      const org = cp.organizationOf(op.tenantId);
      if (org && org.id === op.input.organization_id) cp.deleteOrganization(org.id);
      if (cp.tenant(op.tenantId)) cp.deleteTenant(op.tenantId);
      journal.finish(op.id, "rolled_back", cause.message);
    });
    this.o.registry.tenantUnregistered(op.tenantId);
    removeDbFiles(this.tmpPath(op));
  }

  private runDelete(op: Operation): void {
    const { cp, journal, pool, registry } = this.o;
    const id = op.tenantId;
    if (!hasStep(op, "unregistered")) {
      immediate(cp.db, () => {
        const orgId = (op.input.organization_id as string | null) ?? cp.organizationOf(id)?.id;
        if (orgId) cp.deleteOrganization(orgId);
        cp.deleteTenant(id);
        journal.step(op.id, "unregistered");
      });
      crashPoint("delete:unregistered");
    }
    registry.tenantUnregistered(id);
    const final = registry.pathOf(id);
    const trash = op.input.trash_path as string;
    if (!hasStep(op, "trashed")) {
      pool.evict(id);
      if (existsSync(final)) {
        // Fold the WAL into the main file so the one file moved to the trash holds every commit.
        try {
          const db = openSqlite(final);
          db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
          db.close(false);
        } catch (err) {
          this.o.log.warn({ tenant: id, err }, "could not checkpoint before trashing; moving the WAL along");
        }
        moveDbFiles(final, trash);
      }
      registry.fileRemoved(id);
      journal.step(op.id, "trashed");
      crashPoint("delete:trashed");
    }
    if (op.input.purge === true && !hasStep(op, "purged")) {
      removeDbFiles(trash);
      journal.step(op.id, "purged");
    }
    journal.finish(op.id, "done");
  }

  /**
   * Read afresh for every create (about 0.03 ms): a cache keyed by `schema_version` missed AuthHero's
   * data-only migrations, which add `kysely_migration` rows without changing the schema, so later
   * tenant files lacked those rows and AuthHero would have run the migrations on them again.
   */
  private schemaTemplate(): SchemaTemplate {
    return readSchemaTemplate(this.o.cp.db);
  }

  private tenantRow(op: Operation): Record<string, unknown> {
    const now = op.startedAt;
    const settings: Record<string, unknown> = {};
    for (const key of TENANT_SETTINGS) if (op.input[key] !== undefined) settings[key] = op.input[key];
    const firstLogin = op.input.first_login as FirstLoginIds | null | undefined;
    return { ...settings, ...(firstLogin ? { default_client_id: firstLogin.clientId } : {}), id: op.tenantId, created_at: now, updated_at: now };
  }

  private adoptionProblem(path: string, id: string): string | null {
    const probe = probeDatabase(path);
    if (probe.state === "missing") return "the file is gone";
    if (probe.state === "busy") return `the file is locked by another process right now (${probe.reason}); it is looked at again at the next rescan`;
    if (probe.state === "unreadable") return `not a SQLite database (${probe.reason})`;
    try {
      const db = openSqlite(path);
      try {
        return whyNotOwnFile(db, id);
      } finally {
        db.close(false);
      }
    } catch (err) {
      return (err as Error).message;
    }
  }

  private ownTenantRow(path: string, id: string): { friendly_name: string | null } | undefined {
    const db = openSqlite(path);
    try {
      return (db.query("SELECT friendly_name FROM tenants WHERE id = ?").get(id) as { friendly_name: string | null } | null) ?? undefined;
    } finally {
      db.close(false);
    }
  }

  private sweepTmp(): void {
    const running = new Set(this.o.journal.running().map((op) => op.id));
    for (const name of readdirSync(this.tmpDir)) {
      const opId = name.split(".")[1];
      if (!opId || !running.has(opId)) rmSync(join(this.tmpDir, name), { force: true });
    }
  }
}

function pickSettings(input: TenantSettings): TenantSettings {
  const out: TenantSettings = {};
  for (const key of TENANT_SETTINGS) if (input[key] !== undefined) out[key] = input[key];
  return out;
}
