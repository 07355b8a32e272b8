import { Database } from "bun:sqlite";
import { existsSync, renameSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../config.ts";
import { probeDatabase } from "../storage/file-probe.ts";
import { openSqlite } from "../storage/sqlite.ts";
import { isFileTenantId } from "../tenancy/tenant-id.ts";
import { required, type Command, type Out } from "./command.ts";
import { integrity } from "./integrity.ts";
import { withTenancy } from "./with-tenancy.ts";

/** `tenantgate restore <id> <file>`. */
export const restore: Command = {
  name: "restore",
  usage: "  tenantgate restore <id> <file>                  put a backup in place (the current file goes to the trash)",
  flags: {},
  verifiesTokens: false,
  run(invocation) {
    restoreTenant(invocation.config, required(invocation, 0, "the tenant id"), required(invocation, 1, "the backup file"), invocation.out);
    return 0;
  },
};

/**
 * Checks the backup, moves the current file (if any) to the trash, puts the backup in place by
 * rename, and registers the tenant if the control plane does not list it.
 */
export function restoreTenant(config: Pick<Config, "tenancy" | "sync">, id: string, file: string, out: Out): void {
  const backup = resolve(file);
  const probe = probeDatabase(backup);
  if (probe.state === "missing") throw new Error(`${backup} does not exist`);
  if (probe.state === "busy") throw new Error(`${backup} is locked by another process (${probe.reason}); try again`);
  if (probe.state === "unreadable") throw new Error(`${backup} is not a SQLite database (${probe.reason})`);
  const check = integrity(backup);
  if (check !== "ok") throw new Error(`${backup} failed integrity_check: ${check}`);
  withTenancy(config, ({ cp, lifecycle, pool, registry, relay }) => {
    if (!isFileTenantId(id, cp.id)) throw new Error(`"${id}" is not a valid tenant id`);
    const final = registry.pathOf(id);
    const staged = join(lifecycle.tmpDir, `${id}.restore-${Date.now()}.sqlite`);
    const db = new Database(backup, { readonly: true });
    try {
      db.query("VACUUM INTO ?").run(staged);
    } finally {
      db.close(false);
    }
    // VACUUM INTO writes a rollback-journal file; tenant files are WAL (both processes rely on it).
    const wal = openSqlite(staged);
    try {
      wal.exec("PRAGMA journal_mode = WAL");
    } finally {
      wal.close(false);
    }
    pool.evict(id);
    if (existsSync(final)) {
      const trashed = join(lifecycle.trashDir, `${id}.before-restore-${Date.now()}.sqlite`);
      for (const suffix of ["-wal", "-shm", ""]) if (existsSync(final + suffix)) renameSync(final + suffix, trashed + suffix);
      out(`moved the current file to ${trashed}`);
    }
    renameSync(staged, final);
    registry.fileAdded(id);
    // The relay's remembered cursor was the old file's; the restored one catches up from its own.
    relay.fileReplaced(id);
    if (id !== cp.id && !cp.tenant(id)) lifecycle.adopt(id);
    out(`restored ${id} from ${backup}`);
  });
}
