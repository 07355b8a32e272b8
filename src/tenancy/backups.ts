import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { probeDatabase } from "../storage/files.ts";
import type { HandlePool } from "../storage/files.ts";
import { openSqlite } from "../storage/files.ts";
import { crashPoint } from "./crash-point.ts";
import { moveDbFiles, removeDbFiles, scratchFileOf } from "./db-files.ts";
import { hasStep, type Operation, type OperationJournal } from "./journal.ts";
import type { TenantRegistry } from "./registry.ts";

export interface BackupsOptions {
  journal: OperationJournal;
  registry: TenantRegistry;
  pool: HandlePool;
  tmpDir: string;
  trashDir: string;
  controlPlane: string;
  /** Lists a restored tenant the control plane does not (its row and organization), as adoption does. */
  register: (op: Operation) => void;
  /** The tenant row's friendly name inside a file, if it has one. */
  friendlyNameIn: (path: string, id: string) => string | null | undefined;
  isRegistered: (id: string) => boolean;
  /** The organization a restored tenant is listed with: its existing one, or a new id. */
  organizationIdFor: (id: string) => string;
}

/**
 * Backup and restore of a tenant file, journaled like the other lifecycle operations. A backup is a
 * consistent snapshot (`VACUUM INTO`, readers and writers carry on) that appears at its target only
 * once `integrity_check` passed. A restore checks the backup, builds the new file beside the tenants,
 * moves the current one to the trash and renames the new one into place; a process that dies
 * mid-way leaves an operation the next start finishes (the built file is complete) or undoes.
 */
export class TenantBackups {
  constructor(private readonly o: BackupsOptions) {}

  backup(id: string, target: string): Operation {
    const source = this.o.registry.pathOf(id);
    if (!existsSync(source)) throw new Error(`tenant "${id}" has no file at ${source}`);
    const file = resolve(target);
    if (existsSync(file)) throw new Error(`${file} already exists; choose a new file`);
    const op = this.o.journal.begin("backup", id, { target: file, partial: `${file}.partial` });
    try {
      mkdirSync(dirname(file), { recursive: true });
      rmSync(`${file}.partial`, { force: true });
      const db = openSqlite(source);
      try {
        db.query("VACUUM INTO ?").run(`${file}.partial`);
      } finally {
        db.close(false);
      }
      this.o.journal.step(op.id, "snapshot");
      crashPoint("backup:snapshot");
      const check = integrityCheck(`${file}.partial`);
      if (check !== "ok") throw new Error(`the snapshot failed integrity_check: ${check}`);
      renameSync(`${file}.partial`, file);
      this.o.journal.step(op.id, "checked", `${statSync(file).size} bytes`);
      this.o.journal.finish(op.id, "done");
    } catch (err) {
      rmSync(`${file}.partial`, { force: true });
      this.o.journal.finish(op.id, "failed", (err as Error).message);
      throw err;
    }
    return this.o.journal.get(op.id) as Operation;
  }

  restore(id: string, backupFile: string): Operation {
    const backup = resolve(backupFile);
    const probe = probeDatabase(backup);
    if (probe.state === "missing") throw new Error(`${backup} does not exist`);
    if (probe.state === "busy") throw new Error(`${backup} is locked by another process (${probe.reason}); try again`);
    if (probe.state === "unreadable") throw new Error(`${backup} is not a SQLite database (${probe.reason})`);
    const check = integrityCheck(backup);
    if (check !== "ok") throw new Error(`${backup} failed integrity_check: ${check}`);
    const op = this.o.journal.begin("restore", id, {
      backup,
      trashed: join(this.o.trashDir, `${id}.before-restore-${Date.now()}.sqlite`),
      friendly_name: this.o.friendlyNameIn(backup, id) ?? id,
      organization_id: this.o.organizationIdFor(id),
    });
    this.o.registry.markBusy(id, "provisioning");
    try {
      crashPoint("restore:journaled");
      this.stage(op);
      this.runRestore(this.o.journal.get(op.id) as Operation);
    } catch (err) {
      this.undoRestore(this.o.journal.get(op.id) as Operation, err as Error);
      throw err;
    } finally {
      this.o.registry.clearBusy(id);
    }
    return this.o.journal.get(op.id) as Operation;
  }

  /** Finishes or undoes a backup or restore whose process died. */
  recover(op: Operation): "finished" | "undone" {
    if (op.kind === "backup") {
      // The target only ever appears whole, once checked; before that, what is left is the partial.
      if (hasStep(op, "checked")) {
        this.o.journal.finish(op.id, "done");
        return "finished";
      }
      rmSync(op.input.partial as string, { force: true });
      this.o.journal.finish(op.id, "rolled_back", "interrupted before the snapshot was checked");
      return "undone";
    }
    if (hasStep(op, "staged") && (existsSync(scratchFileOf(this.o.tmpDir, op)) || hasStep(op, "renamed"))) {
      this.runRestore(op);
      return "finished";
    }
    this.undoRestore(op, new Error("interrupted before the restored file was complete"));
    return "undone";
  }

  /** The new file, built from the backup beside the tenants (in WAL mode, as every tenant file is). */
  private stage(op: Operation): void {
    const staged = scratchFileOf(this.o.tmpDir, op);
    const db = new Database(op.input.backup as string, { readonly: true });
    try {
      db.query("VACUUM INTO ?").run(staged);
    } finally {
      db.close(false);
    }
    const wal = openSqlite(staged);
    try {
      wal.exec("PRAGMA journal_mode = WAL");
    } finally {
      wal.close(false);
    }
    this.o.journal.step(op.id, "staged");
    crashPoint("restore:staged");
  }

  private runRestore(op: Operation): void {
    const { journal, registry, pool } = this.o;
    const id = op.tenantId;
    const final = registry.pathOf(id);
    const trashed = op.input.trashed as string;
    if (!hasStep(op, "trashed")) {
      pool.evict(id);
      const had = existsSync(final);
      if (had) moveDbFiles(final, trashed);
      journal.step(op.id, "trashed", had ? trashed : "no current file");
      crashPoint("restore:trashed");
    }
    if (!hasStep(op, "renamed")) {
      // A file that appeared at the tenant's path meanwhile is set aside too, never overwritten.
      if (existsSync(final)) moveDbFiles(final, `${trashed.slice(0, -".sqlite".length)}-2.sqlite`);
      renameSync(scratchFileOf(this.o.tmpDir, op), final);
      journal.step(op.id, "renamed");
      crashPoint("restore:renamed");
    }
    registry.fileAdded(id);
    if (id !== this.o.controlPlane && !this.o.isRegistered(id)) this.o.register(op);
    journal.finish(op.id, "done");
  }

  private undoRestore(op: Operation, cause: Error): void {
    const current = this.o.journal.get(op.id);
    if (!current || current.state !== "running") return;
    removeDbFiles(scratchFileOf(this.o.tmpDir, current));
    // The current file was set aside but the new one never arrived: the old one goes back.
    const final = this.o.registry.pathOf(op.tenantId);
    if (hasStep(current, "trashed") && !existsSync(final) && existsSync(current.input.trashed as string)) moveDbFiles(current.input.trashed as string, final);
    if (existsSync(final)) this.o.registry.fileAdded(op.tenantId);
    else this.o.registry.fileRemoved(op.tenantId);
    this.o.journal.finish(op.id, "rolled_back", cause.message);
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
