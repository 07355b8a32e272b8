import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { forgetCursor, hasTable, markOrigin, originOf, probeDatabase } from "../storage/files.ts";
import type { TenantStore } from "../storage/files.ts";
import { BunSqlDb, openSqlite, type SqlDb } from "../storage/files.ts";
import { HttpError } from "../http-error.ts";
import { whyNotOwnFile } from "./file-owner.ts";
import { crashPoint } from "./crash-point.ts";
import { removeDbFiles, scratchFileOf } from "../storage/files.ts";
import { hasStep, type Operation, type OperationJournal } from "./journal.ts";
import type { TenantRegistry } from "./registry.ts";

export interface BackupsOptions {
  journal: OperationJournal;
  registry: TenantRegistry;
  /** Where the databases backed up and restored are (a backup is a local file whichever store made it). */
  store: Pick<TenantStore, "exists" | "exportTo" | "trashName" | "archive" | "placeFrom" | "unarchive">;
  /** A local folder where a restore prepares the backup's copy before it is put in place. */
  stagingDir: string;
  /** False where the control plane is in use by every gateway (a libSQL server): its restore is the server's business. */
  controlPlaneRestorable: boolean;
  controlPlane: string;
  /** Lists a restored tenant the control plane does not (its row and organization), as adoption does. */
  register: (op: Operation) => Promise<void>;
  /** The tenant row's friendly name inside a file, if it has one. */
  friendlyNameIn: (path: string, id: string) => string | null | undefined;
  isRegistered: (id: string) => Promise<boolean>;
  /** The organization a restored tenant is listed with: its existing one, or a new id. */
  organizationIdFor: (id: string) => Promise<string>;
  /** This deployment's identity (the control plane's mark), which backups of its tenants carry. */
  deploymentId: () => Promise<string>;
  /**
   * Makes a restored file's synced copies and cursor the control plane's (the relay's full copy, as a
   * new tenant is seeded) and says the cursor it set; undefined when there is no relay to ask.
   */
  repair: (db: SqlDb, tenantId: string) => Promise<number | undefined>;
}

export interface RestoreOptions {
  /** Takes a backup marked by another deployment (a tenant moved here); its synced copies are replaced. */
  fromOtherDeployment?: boolean;
}

/**
 * Backup and restore of a tenant's database, journaled like the other lifecycle operations, on
 * either store. A backup is a local SQLite file: a consistent snapshot (the store's `exportTo`;
 * readers and writers carry on), marked with this deployment and the tenant, that appears at its
 * target only once `integrity_check` passed. A restore checks the backup (a database, intact, this
 * tenant's, from this deployment), prepares a copy of it in the staging folder with the control
 * plane's synced copies and cursor, archives the current database to the trash and puts the copy in
 * its place (`placeFrom`); a process that dies mid-way leaves an operation the next start finishes
 * (the staged copy is complete) or undoes.
 */
export class TenantBackups {
  constructor(private readonly o: BackupsOptions) {}

  private staged(op: Pick<Operation, "id" | "tenantId">): string {
    return scratchFileOf(this.o.stagingDir, op);
  }

  async backup(id: string, target: string): Promise<Operation> {
    if (!(await this.o.store.exists(id))) throw new Error(`tenant "${id}" has no database to back up (no file in the data directory, or no namespace on the server)`);
    const file = resolve(target);
    if (existsSync(file)) throw new Error(`${file} already exists; choose a new file`);
    const op = await this.o.journal.begin("backup", id, { target: file, partial: `${file}.partial` });
    try {
      mkdirSync(dirname(file), { recursive: true });
      rmSync(`${file}.partial`, { force: true });
      await this.o.store.exportTo(id, `${file}.partial`);
      // The control plane's snapshot carries the deployment's own mark; a tenant's is marked here, so a
      // backup of a file made before marks existed carries one too.
      if (id !== this.o.controlPlane) await this.markSnapshot(`${file}.partial`, id);
      await this.o.journal.step(op.id, "snapshot");
      crashPoint("backup:snapshot");
      const check = integrityCheck(`${file}.partial`);
      if (check !== "ok") throw new Error(`the snapshot failed integrity_check: ${check}`);
      renameSync(`${file}.partial`, file);
      await this.o.journal.step(op.id, "checked", `${statSync(file).size} bytes`);
      await this.o.journal.finish(op.id, "done");
    } catch (err) {
      rmSync(`${file}.partial`, { force: true });
      await this.o.journal.finish(op.id, "failed", (err as Error).message);
      throw err;
    }
    return (await this.o.journal.get(op.id)) as Operation;
  }

  async restore(id: string, backupFile: string, opts: RestoreOptions = {}): Promise<Operation> {
    const backup = resolve(backupFile);
    const probe = probeDatabase(backup);
    if (probe.state === "missing") throw new Error(`${backup} does not exist`);
    if (probe.state === "busy") throw new Error(`${backup} is locked by another process (${probe.reason}); try again`);
    if (probe.state === "unreadable") throw new Error(`${backup} is not a SQLite database (${probe.reason})`);
    const check = integrityCheck(backup);
    if (check !== "ok") throw new Error(`${backup} failed integrity_check: ${check}`);
    if (id === this.o.controlPlane && !this.o.controlPlaneRestorable)
      throw new HttpError(501, `the control plane on a libSQL server is in use by every gateway: restore its namespace with the server's own tools (see the README's "Beyond one machine")`);
    await this.assertRestorable(id, backup, opts);
    const op = await this.o.journal.begin("restore", id, {
      backup,
      trashed: await this.o.store.trashName(id, `before-restore-${Date.now()}`),
      friendly_name: this.o.friendlyNameIn(backup, id) ?? id,
      organization_id: await this.o.organizationIdFor(id),
    });
    this.o.registry.markBusy(id, "provisioning");
    try {
      crashPoint("restore:journaled");
      await this.stage(op);
      await this.runRestore((await this.o.journal.get(op.id)) as Operation);
    } catch (err) {
      await this.undoRestore((await this.o.journal.get(op.id)) as Operation, err as Error);
      throw err;
    } finally {
      this.o.registry.clearBusy(id);
    }
    return (await this.o.journal.get(op.id)) as Operation;
  }

  /** Finishes or undoes a backup or restore whose process died. */
  async recover(op: Operation): Promise<"finished" | "undone"> {
    if (op.kind === "backup") {
      // The target only ever appears whole, once checked; before that, what is left is the partial.
      if (hasStep(op, "checked")) {
        await this.o.journal.finish(op.id, "done");
        return "finished";
      }
      rmSync(op.input.partial as string, { force: true });
      await this.o.journal.finish(op.id, "rolled_back", "interrupted before the snapshot was checked");
      return "undone";
    }
    if (hasStep(op, "staged") && (existsSync(this.staged(op)) || hasStep(op, "renamed"))) {
      await this.runRestore(op);
      return "finished";
    }
    await this.undoRestore(op, new Error("interrupted before the restored file was complete"));
    return "undone";
  }

  /**
   * Refuses a backup that cannot be right as `id`'s file, naming it, what it is and what to do: the
   * control plane's file as a tenant's or the reverse, another tenant's file (every row in it names
   * that tenant), or a backup marked by another deployment unless asked for. A backup from before
   * marks existed is taken when it holds `id`'s tenant row; the restore repairs its synced copies.
   */
  private async assertRestorable(id: string, backup: string, opts: RestoreOptions): Promise<void> {
    const db = new Database(backup, { readonly: true });
    try {
      const controlPlane = this.o.controlPlane;
      // tenantgate's journal is made in the control plane only (tenant files are clones without it).
      const isControlPlane = hasTable(db, "tenantgate_operations");
      if (id === controlPlane) {
        if (!isControlPlane) throw new Error(`${backup} is a tenant's file, not the control plane's (it has no tenantgate_operations table); restore it as the tenant it is a backup of`);
        // The control plane carries the deployment's identity: a restored one brings its own back.
        return;
      }
      if (isControlPlane) throw new Error(`${backup} is the control plane's file, not tenant "${id}"'s; restore it as "${controlPlane}" (tenantgate restore ${controlPlane} ${backup})`);
      const origin = originOf(db);
      if (origin && origin.tenantId !== id) {
        throw new Error(
          `${backup} is a backup of tenant "${origin.tenantId}", not of "${id}": its rows name "${origin.tenantId}", so AuthHero would find "${id}" empty. Restore it as "${origin.tenantId}" (tenantgate restore ${origin.tenantId} ${backup}), or choose a backup of "${id}"`,
        );
      }
      const notOwn = whyNotOwnFile(db, id);
      if (notOwn) throw new Error(`${backup} cannot be restored as tenant "${id}": ${notOwn}`);
      const here = await this.o.deploymentId();
      if (origin && origin.deploymentId !== here && !opts.fromOtherDeployment) {
        throw new Error(
          `${backup} is a backup of "${id}" made on another deployment (${origin.deploymentId}; this data directory's is ${here}): its synced copies and sync cursor are that control plane's, and its own entities may name that control plane's roles and connections by id. ` +
            `If this data directory replaces that deployment's, restore its control plane first (tenantgate restore ${controlPlane} <its backup>); to move the tenant here anyway, run tenantgate restore ${id} ${backup} --from-other-deployment (its synced copies become this control plane's)`,
        );
      }
    } finally {
      db.close(false);
    }
  }

  /**
   * The new file, built from the backup beside the tenants (in WAL mode, as every tenant file is). A
   * tenant's is marked as this deployment's and brought to the control plane's synced state at once:
   * the backup's cursor counts events of the outbox it was made beside, which may be behind, ahead
   * of, or another deployment's than this one's.
   */
  private async stage(op: Operation): Promise<void> {
    const staged = this.staged(op);
    mkdirSync(this.o.stagingDir, { recursive: true });
    const source = new Database(op.input.backup as string, { readonly: true });
    try {
      source.query("VACUUM INTO ?").run(staged);
    } finally {
      source.close(false);
    }
    const db = openSqlite(staged);
    let outcome: string | undefined;
    try {
      db.exec("PRAGMA journal_mode = WAL");
      if (op.tenantId !== this.o.controlPlane) {
        markOrigin(db, { deploymentId: await this.o.deploymentId(), tenantId: op.tenantId });
        outcome = await this.repair(db, op.tenantId);
      } else if (!originOf(db)) {
        // A control plane backed up before marks existed: the deployment keeps the identity its tenant files carry.
        markOrigin(db, { deploymentId: await this.o.deploymentId(), tenantId: op.tenantId });
      }
    } finally {
      db.close(false);
    }
    await this.o.journal.step(op.id, "staged", outcome);
    crashPoint("restore:staged");
  }

  /** Says what became of the staged file's synced copies. */
  private async repair(db: Database, tenantId: string): Promise<string> {
    let cursor: number | undefined;
    try {
      cursor = await this.o.repair(new BunSqlDb(db), tenantId);
    } catch (err) {
      forgetCursor(db);
      return `its synced copies are left to the relay, which copies them in full (the repair failed: ${(err as Error).message})`;
    }
    if (cursor !== undefined) return `its synced copies are the control plane's (cursor ${cursor})`;
    forgetCursor(db);
    return "its synced copies are left to the relay, which copies them in full";
  }

  /** Marks a tenant's snapshot as this deployment's backup of `id`. */
  private async markSnapshot(path: string, id: string): Promise<void> {
    const deploymentId = await this.o.deploymentId();
    const db = openSqlite(path);
    try {
      markOrigin(db, { deploymentId, tenantId: id });
    } finally {
      db.close(false);
    }
  }

  private async runRestore(op: Operation): Promise<void> {
    const { journal, registry, store } = this.o;
    const id = op.tenantId;
    const trashed = op.input.trashed as string;
    if (!hasStep(op, "trashed")) {
      const had = await store.exists(id);
      if (had) await store.archive(id, trashed);
      await journal.step(op.id, "trashed", had ? trashed : "no current file");
      crashPoint("restore:trashed");
    }
    if (!hasStep(op, "renamed")) {
      // A database that appeared meanwhile is set aside too, never overwritten.
      await store.placeFrom(id, this.staged(op), await store.trashName(id, `before-restore-${op.id}-2`));
      await journal.step(op.id, "renamed");
      crashPoint("restore:renamed");
    }
    registry.fileAdded(id);
    if (id !== this.o.controlPlane && !(await this.o.isRegistered(id))) await this.o.register(op);
    await journal.finish(op.id, "done");
  }

  private async undoRestore(op: Operation, cause: Error): Promise<void> {
    const current = await this.o.journal.get(op.id);
    if (!current || current.state !== "running") return;
    removeDbFiles(this.staged(current));
    // The current database was set aside but the new one never arrived: the old one goes back.
    if (hasStep(current, "trashed")) await this.o.store.unarchive(op.tenantId, current.input.trashed as string);
    if (await this.o.store.exists(op.tenantId)) this.o.registry.fileAdded(op.tenantId);
    else this.o.registry.fileRemoved(op.tenantId);
    await this.o.journal.finish(op.id, "rolled_back", cause.message);
  }
}

/** `PRAGMA integrity_check`'s verdict on a file ("ok", or what is wrong). */
export function integrityCheck(path: string): string {
  let db: Database | undefined;
  try {
    db = new Database(path, { readonly: true });
    const rows = db.query("PRAGMA integrity_check").all() as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join("; ");
  } catch (err) {
    return (err as Error).message;
  } finally {
    db?.close(false);
  }
}
