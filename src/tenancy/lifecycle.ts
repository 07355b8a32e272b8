import type { Logger } from "pino";
import { HttpError } from "../http-error.ts";
import { insertInto, readSchemaTemplate, type FileTenantStore, type SchemaTemplate, type TenantStore } from "../storage/index.ts";
import { firstLoginIds, holdsClients, MANAGEMENT_API, provisionFirstLogin, TENANT_ADMIN_ROLE, type FirstLoginIds } from "./first-login.ts";
import { originMark } from "../storage/files.ts";
import type { ControlPlane, ControlPlaneRows, TenantRow } from "../storage/index.ts";
import { probeDatabase } from "../storage/files.ts";
import { openSqlite, type SqlDb } from "../storage/files.ts";
import { TenantBackups, type RestoreOptions } from "./backups.ts";
import { whyNotOwnFile } from "./file-owner.ts";
import { crashPoint } from "./crash-point.ts";
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
  /** Where tenants' databases are built, placed, archived. */
  store: TenantStore;
  /** A local folder where a restore prepares its copy of the backup. */
  stagingDir: string;
  /** The local files' store, for what only files have (adoption): undefined on a libSQL server. */
  files?: FileTenantStore;
  registry: TenantRegistry;
  journal: OperationJournal;
  reserved: ReadonlySet<string>;
  trashRetentionMs: number;
  /** The login pages of a new tenant's Default App (AuthHero's universal login version). */
  universalLoginVersion: "1" | "2";
  log: Logger;
}

/**
 * Adds seed rows to a new or restored tenant database before it is put in place (the outbox's
 * snapshot), in transactions of its own, and says the sync cursor it set.
 */
export type Seeder = (db: SqlDb, tenantId: string) => Promise<number>;

/**
 * Provisioning, adoption and deprovisioning of tenants. Each is a journaled operation of idempotent
 * steps: a new file is built at a temporary path and renamed into place only after the control plane
 * lists it, and a process that dies mid-way finishes or undoes the work at its next start (`recover`).
 */
export class TenantLifecycle {
  private seed?: Seeder;
  private readonly backups: TenantBackups;

  constructor(private readonly o: LifecycleOptions) {
    const { files } = o;
    this.backups = new TenantBackups({
      journal: o.journal,
      registry: o.registry,
      store: o.store,
      stagingDir: o.stagingDir,
      // On a server the control plane is every gateway's, live: not something one restores under them.
      controlPlaneRestorable: files !== undefined,
      controlPlane: o.cp.id,
      register: (op) => this.register(op),
      friendlyNameIn: (path, id) => this.ownTenantRow(path, id)?.friendly_name,
      isRegistered: async (id) => (await o.cp.tenant(id)) !== undefined,
      organizationIdFor: async (id) => (await o.cp.organizationOf(id))?.id ?? newOrganizationId(),
      deploymentId: () => o.cp.deploymentId(),
      repair: async (db, id) => this.seed?.(db, id),
    });
  }

  /** A checked snapshot of the tenant's database in a local file at `target`, whichever the store (journaled; see backups.ts). */
  backup(id: string, target: string): Promise<Operation> {
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
    const { cp, registry, journal, store } = this.o;
    const id = input.id ?? newTenantId();
    assertChildTenantId(id, this.o.reserved, cp.id);
    if (await cp.tenant(id)) throw new HttpError(409, `tenant "${id}" already exists`);
    if (await store.exists(id))
      throw new HttpError(409, `a database for tenant "${id}" is already in the store (a file in the data directory, or a namespace on the server); adopt it or move it away first`);
    if (await cp.organizationOf(id)) throw new HttpError(409, `an organization named "${id}" already exists on the control plane`);

    const settings = pickSettings(input);
    // A control plane AuthHero made holds clients: the tenant gets what its first login needs.
    const firstLogin = (await holdsClients(cp.sql)) ? firstLoginIds(this.o.universalLoginVersion) : null;
    const op = await journal.begin("create", id, { ...settings, organization_id: newOrganizationId(), creator: input.creator ?? null, first_login: firstLogin });
    registry.markBusy(id, "provisioning");
    try {
      crashPoint("create:journaled");
      await this.runCreate(op);
      return { tenant: (await cp.tenant(id)) as TenantRow, organization_id: op.input.organization_id as string, operation_id: op.id };
    } catch (err) {
      await this.undoCreate(op, err as Error);
      throw err;
    } finally {
      registry.clearBusy(id);
    }
  }

  async delete(id: string, opts: { purge?: boolean } = {}): Promise<Operation> {
    const { cp, registry, journal, store } = this.o;
    if (id === cp.id) throw new HttpError(403, "the control plane can never be deleted");
    assertChildTenantId(id, this.o.reserved, cp.id);
    if (!(await cp.tenant(id))) throw new HttpError(404, `tenant "${id}" does not exist`);
    const org = await cp.organizationOf(id);
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
    const op = await journal.begin("delete", id, {
      organization_id: org?.id ?? null,
      purge: opts.purge === true,
      // Named so for the journals of earlier versions: on a libSQL server it is a namespace's name.
      trash_path: await store.trashName(id, stamp),
    });
    registry.markBusy(id, "deleting");
    try {
      crashPoint("delete:journaled");
      await this.runDelete(op);
    } finally {
      registry.clearBusy(id);
    }
    return (await journal.get(op.id)) as Operation;
  }

  /**
   * Registers a tenant file that appeared in the data directory without a control-plane row. Only a
   * SQLite file with AuthHero's `tenants` table qualifies; anything else is reported, never touched.
   */
  async adopt(id: string): Promise<Operation> {
    const { cp, registry, journal } = this.o;
    assertChildTenantId(id, this.o.reserved, cp.id);
    if (!this.o.files) throw new HttpError(501, "adoption registers tenant files found in the data directory; a libSQL server's tenants are its control plane's rows");
    if (await cp.tenant(id)) throw new HttpError(409, `tenant "${id}" is already registered`);
    const path = this.o.files.pathOf(id);
    const problem = this.adoptionProblem(path, id);
    if (problem) throw new HttpError(400, `cannot adopt ${path}: ${problem}`);
    const own = this.ownTenantRow(path, id);
    const op = await journal.begin("adopt", id, {
      friendly_name: own?.friendly_name ?? id,
      organization_id: (await cp.organizationOf(id))?.id ?? newOrganizationId(),
    });
    registry.markBusy(id, "provisioning");
    try {
      await this.register(op);
      await journal.finish(op.id, "done");
    } catch (err) {
      await journal.finish(op.id, "failed", (err as Error).message);
      throw err;
    } finally {
      registry.clearBusy(id);
    }
    return (await journal.get(op.id)) as Operation;
  }

  /**
   * Finishes or undoes every operation whose process died while running it. Called at start and at
   * every rescan; work of a live process (a CLI command beside the gateway) is left to it.
   */
  async recover(): Promise<{ finished: string[]; undone: string[]; live: string[] }> {
    const { store } = this.o;
    const result = { finished: [] as string[], undone: [] as string[], live: [] as string[] };
    for (const op of await this.o.journal.running()) {
      // Another process (a CLI command beside the gateway, another gateway) is doing this one right
      // now, or has just taken it over.
      if (!this.o.journal.isAbandoned(op) || !(await this.o.journal.claim(op))) {
        result.live.push(op.id);
        continue;
      }
      try {
        if (op.kind === "delete") {
          await this.runDelete(op);
          result.finished.push(op.id);
        } else if (op.kind === "backup" || op.kind === "restore") {
          result[await this.backups.recover(op)].push(op.id);
        } else if (hasStep(op, "registered") && ((await store.exists(op.tenantId)) || (await store.built(op.tenantId, op.id)))) {
          // The control plane already lists the tenant, so the database was complete: roll forward.
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
        this.o.log.error({ op: op.id, err }, "could not recover an interrupted operation; it is tried again at the next rescan");
        await this.o.journal.letGo(op.id).catch(() => {});
      }
    }
    await store.sweepBuilds(new Set((await this.o.journal.running()).map((op) => op.id)));
    return result;
  }

  /** Deletes trashed databases older than the retention period. */
  sweepTrash(now = Date.now()): Promise<string[]> {
    return this.o.store.sweepTrash(now, this.o.trashRetentionMs);
  }

  private async runCreate(op: Operation): Promise<void> {
    const { journal, registry, store } = this.o;
    if (!hasStep(op, "file-built")) {
      const deploymentId = await this.o.cp.deploymentId();
      // Transactions of their own: the database is where nobody reads it yet, and a build cut short
      // is made again from the start (no "file-built" step yet).
      await store.build(op.tenantId, op.id, await this.schemaTemplate(), async (db) => {
        await db.transaction(async (tx) => {
          await insertInto(tx, "tenants", this.tenantRow(op));
          for (const { sql, args } of originMark({ deploymentId, tenantId: op.tenantId })) await tx.run(sql, args);
        });
        await this.seed?.(db, op.tenantId);
        // After the synced copies: a synced database connection is the one the Default App uses.
        const firstLogin = op.input.first_login as FirstLoginIds | null | undefined;
        if (firstLogin) await db.transaction((tx) => provisionFirstLogin(tx, op.tenantId, firstLogin));
      });
      await journal.step(op.id, "file-built");
      crashPoint("create:file-built");
    }
    if (!hasStep(op, "registered")) {
      await this.register(op);
      crashPoint("create:registered");
    }
    if (!hasStep(op, "renamed")) {
      await store.place(op.tenantId, op.id);
      await journal.step(op.id, "renamed");
      crashPoint("create:renamed");
    }
    registry.fileAdded(op.tenantId);
    await journal.finish(op.id, "done");
  }

  /**
   * One control-plane transaction: the tenant row, its organization, the creator's membership and
   * "Tenant Admin" role in it (where the control plane has the management API), the step.
   */
  private async register(op: Operation): Promise<void> {
    const { cp, journal } = this.o;
    const orgId = op.input.organization_id as string;
    await cp.transaction(async (rows) => {
      if (!(await rows.tenant(op.tenantId))) await rows.insertTenant(this.tenantRow(op));
      if (!(await rows.organizationOf(op.tenantId)))
        await rows.insertOrganization({ id: orgId, name: op.tenantId, display_name: (op.input.friendly_name as string) ?? op.tenantId });
      const creator = op.input.creator;
      if (typeof creator === "string" && (await rows.addMember({ id: newMembershipId(), organization_id: orgId, user_id: creator }))) {
        const role = await rows.ensureRole(TENANT_ADMIN_ROLE.name, TENANT_ADMIN_ROLE.description, MANAGEMENT_API, newRoleId);
        if (role) await rows.assignOrganizationRole(creator, role, orgId);
      }
      await journal.step(op.id, "registered", "ok", rows.writer);
    });
    this.o.registry.tenantRegistered(op.tenantId, (await cp.organizationOf(op.tenantId))?.id ?? orgId);
  }

  private async undoCreate(op: Operation, cause: Error): Promise<void> {
    const { cp, journal, store } = this.o;
    const current = await journal.get(op.id);
    if (!current || current.state !== "running") return;
    if (hasStep(current, "registered")) {
      // Registered means the database was complete; finishing is safer than tearing a listed tenant down.
      try {
        await this.runCreate(current);
        return;
      } catch (err) {
        this.o.log.error({ op: op.id, err }, "could not finish a registered tenant; undoing it");
      }
    }
    await cp.transaction(async (rows) => {
      const org = await rows.organizationOf(op.tenantId);
      if (org && org.id === op.input.organization_id) await rows.deleteOrganization(org.id);
      if (await rows.tenant(op.tenantId)) await rows.deleteTenant(op.tenantId);
      await journal.finish(op.id, "rolled_back", cause.message, rows.writer);
    });
    this.o.registry.tenantUnregistered(op.tenantId);
    await store.discard(op.tenantId, op.id);
  }

  private async runDelete(op: Operation): Promise<void> {
    const { cp, journal, registry, store } = this.o;
    const id = op.tenantId;
    if (!hasStep(op, "unregistered")) {
      await cp.transaction(async (rows: ControlPlaneRows) => {
        const orgId = (op.input.organization_id as string | null) ?? (await rows.organizationOf(id))?.id;
        if (orgId) await rows.deleteOrganization(orgId);
        await rows.deleteTenant(id);
        await journal.step(op.id, "unregistered", "ok", rows.writer);
      });
      crashPoint("delete:unregistered");
    }
    registry.tenantUnregistered(id);
    const trash = op.input.trash_path as string;
    if (!hasStep(op, "trashed")) {
      await store.archive(id, trash);
      registry.fileRemoved(id);
      await journal.step(op.id, "trashed");
      crashPoint("delete:trashed");
    }
    if (op.input.purge === true && !hasStep(op, "purged")) {
      await store.purge(trash);
      await journal.step(op.id, "purged");
    }
    await journal.finish(op.id, "done");
  }

  /**
   * Read afresh for every create (about 0.03 ms): a cache keyed by `schema_version` missed AuthHero's
   * data-only migrations, which add `kysely_migration` rows without changing the schema, so later
   * tenant files lacked those rows and AuthHero would have run the migrations on them again.
   */
  private schemaTemplate(): Promise<SchemaTemplate> {
    return readSchemaTemplate(this.o.cp.sql);
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

}

function pickSettings(input: TenantSettings): TenantSettings {
  const out: TenantSettings = {};
  for (const key of TENANT_SETTINGS) if (input[key] !== undefined) out[key] = input[key];
  return out;
}
