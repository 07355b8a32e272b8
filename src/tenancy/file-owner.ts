import type { Database } from "bun:sqlite";
import { hasTable } from "../storage/files.ts";

/**
 * Why the file open in `db` is not tenant `id`'s own, or null when it is. A copy of another tenant's
 * file keeps that tenant's ids in every row: AuthHero would see an empty tenant. Adoption and restore
 * both ask.
 */
export function whyNotOwnFile(db: Database, id: string): string | null {
  if (!hasTable(db, "tenants")) return "it has no tenants table, so it is not an AuthHero tenant file";
  if (db.query("SELECT 1 FROM tenants WHERE id = ?").get(id)) return null;
  const other = (db.query("SELECT id FROM tenants LIMIT 1").get() as { id: string } | null)?.id;
  return `it holds no tenants row for "${id}"${other ? ` (it is tenant "${other}"'s data; re-key it or restore it under that id)` : ""}`;
}
