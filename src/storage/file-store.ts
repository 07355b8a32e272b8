import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { applyTemplate, type SchemaTemplate } from "./clone.ts";
import { moveDbFiles, removeDbFiles, scratchFileOf } from "./db-files.ts";
import type { HandlePool } from "./pool.ts";
import { BunSqlDb, type SqlDb } from "./sql.ts";
import { openSqlite } from "./sqlite.ts";
import type { TenantIdentity, TenantStore, ThreadAccess } from "./tenant-store.ts";

/**
 * Tenants as local SQLite files: `<dir>/<id>.sqlite`. A new tenant's file is built in `<dir>/.tmp`
 * and renamed into place (a crash never leaves half a tenant where the gateway reads); a deleted
 * one is moved to `<dir>/.trash` with its WAL folded in, and deleted there after the retention.
 */
export class FileTenantStore implements TenantStore {
  readonly engine = "sqlite-file" as const;
  readonly tmpDir: string;
  readonly trashDir: string;

  constructor(
    readonly dir: string,
    readonly pool: HandlePool,
    /** Which ids name tenant files: a child tenant's, or the control plane's (its backups and restores). */
    private readonly isFileId: (id: string) => boolean,
  ) {
    this.tmpDir = join(dir, ".tmp");
    this.trashDir = join(dir, ".trash");
    mkdirSync(this.tmpDir, { recursive: true });
    mkdirSync(this.trashDir, { recursive: true });
  }

  use<T>(id: string, fn: (db: SqlDb) => Promise<T>): Promise<T> {
    return this.pool.use(id, fn);
  }

  identity(id: string): TenantIdentity | undefined {
    return this.pool.identity(id);
  }

  evictIfReplaced(id: string): boolean {
    return this.pool.evictIfReplaced(id);
  }

  evict(id: string): void {
    this.pool.evict(id);
  }

  openIds(): string[] {
    return this.pool.openIds();
  }

  get threads(): ThreadAccess | undefined {
    return this.pool.threads;
  }

  async exists(id: string): Promise<boolean> {
    return existsSync(this.pathOf(id));
  }

  async build(id: string, work: string, template: SchemaTemplate, fill: (db: SqlDb) => Promise<void>): Promise<void> {
    const tmp = this.scratch(id, work);
    removeDbFiles(tmp);
    const db = new BunSqlDb(openSqlite(tmp, { create: true }));
    try {
      await db.transaction((tx) => applyTemplate(tx, template));
      await fill(db);
      // The one file renamed into place holds every commit: no WAL is left beside it.
      await db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    } finally {
      db.close();
    }
  }

  async built(id: string, work: string): Promise<boolean> {
    return existsSync(this.scratch(id, work));
  }

  async place(id: string, work: string): Promise<void> {
    const final = this.pool.pathOf(id);
    const tmp = this.scratch(id, work);
    if (!existsSync(final)) {
      if (!existsSync(tmp)) throw new Error(`the built file ${tmp} vanished before it was moved into place`);
      renameSync(tmp, final);
    }
    removeDbFiles(tmp);
  }

  async discard(id: string, work: string): Promise<void> {
    removeDbFiles(this.scratch(id, work));
  }

  async trashName(id: string, stamp: string): Promise<string> {
    // An id deleted, re-created and deleted again within one second must not rename over (and so
    // lose) the earlier trashed file.
    let trash = join(this.trashDir, `${id}.${stamp}.sqlite`);
    for (let n = 2; existsSync(trash); n++) trash = join(this.trashDir, `${id}.${stamp}-${n}.sqlite`);
    return trash;
  }

  async archive(id: string, trash: string): Promise<void> {
    this.pool.evict(id);
    const final = this.pool.pathOf(id);
    if (!existsSync(final)) return;
    // Fold the WAL into the main file so the one file moved to the trash holds every commit; if
    // that fails the WAL moves along with it.
    try {
      const db = openSqlite(final);
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      db.close(false);
    } catch {
      // moved with its WAL
    }
    moveDbFiles(final, trash);
  }

  async purge(trash: string): Promise<void> {
    removeDbFiles(trash);
  }

  async sweepTrash(now: number, retentionMs: number): Promise<string[]> {
    const removed: string[] = [];
    for (const name of readdirSync(this.trashDir)) {
      const path = join(this.trashDir, name);
      try {
        if (now - statSync(path).mtimeMs > retentionMs) {
          rmSync(path, { force: true });
          removed.push(name);
        }
      } catch {
        // Gone meanwhile: nothing to sweep.
      }
    }
    return removed;
  }

  async sweepBuilds(running: ReadonlySet<string>): Promise<void> {
    for (const name of readdirSync(this.tmpDir)) {
      const work = name.split(".")[1];
      if (!work || !running.has(work)) rmSync(join(this.tmpDir, name), { force: true });
    }
  }

  async exportTo(id: string, file: string): Promise<void> {
    // VACUUM INTO reads one snapshot while readers and writers carry on, and writes a compact file.
    const db = openSqlite(this.pathOf(id));
    try {
      db.query("VACUUM INTO ?").run(file);
    } finally {
      db.close(false);
    }
  }

  async placeFrom(id: string, file: string, aside: string): Promise<void> {
    const final = this.pathOf(id);
    this.pool.evict(id);
    if (existsSync(final)) moveDbFiles(final, aside);
    renameSync(file, final);
  }

  async unarchive(id: string, trash: string): Promise<void> {
    const final = this.pathOf(id);
    if (!existsSync(final) && existsSync(trash)) moveDbFiles(trash, final);
  }

  /** The file of a tenant, or of the control plane. */
  pathOf(id: string): string {
    if (!this.isFileId(id)) throw new Error(`refusing to build a path from tenant id ${JSON.stringify(id)}`);
    return join(this.dir, `${id}.sqlite`);
  }

  /** Where operation `work` builds the tenant's file. */
  scratch(id: string, work: string): string {
    return scratchFileOf(this.tmpDir, { id: work, tenantId: id });
  }
}
