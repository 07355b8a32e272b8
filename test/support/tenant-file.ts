import { Database } from "bun:sqlite";
import { copyFileSync, renameSync } from "node:fs";

/**
 * Copies a tenant file and re-keys the copy to `id` (its own tenants row and every tenant_id), as an
 * operator moving a tenant's data under a new id would: the copy is then a valid file for `id`.
 */
export function copyTenantFileAs(source: string, dest: string, from: string, id: string): void {
  const staging = `${dest}.staging`;
  copyFileSync(source, staging);
  const db = new Database(staging);
  try {
    db.transaction(() => {
      db.query("UPDATE tenants SET id = ? WHERE id = ?").run(id, from);
      const tables = db.query("SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c WHERE m.type = 'table' AND c.name = 'tenant_id'").all() as { name: string }[];
      for (const { name } of tables) db.query(`UPDATE "${name}" SET tenant_id = ? WHERE tenant_id = ?`).run(id, from);
    })();
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } finally {
    db.close(false);
  }
  // Renamed in whole, so the watcher never sees a half-written copy.
  renameSync(staging, dest);
}
