import type { Database } from "bun:sqlite";
import journal from "./tenant-migrations/meta/_journal.json" with { type: "json" };
import m0000 from "./tenant-migrations/0000_tenant_tables.sql" with { type: "text" };

// drizzle-kit writes these from tenant-schema.ts. Files made before they were generated already hold
// the same tables (same names, columns and keys), so each statement runs only where its object is
// missing; a second migration that alters a table will need drizzle's migrator per file instead.
if (journal.entries.length !== 1) throw new Error("tenant-tables.ts applies exactly one tenant-file migration; see the note there");
const STATEMENTS = m0000
  .split("--> statement-breakpoint")
  .map((s) => s.trim().replace(/^CREATE (TABLE|INDEX) /, "CREATE $1 IF NOT EXISTS "))
  .filter((s) => s !== "");

const prepared = new WeakSet<Database>();

/** Makes tenantgate's own tables in a tenant file where they are missing (once per open handle). */
export function ensureTenantTables(db: Database): void {
  if (prepared.has(db)) return;
  for (const statement of STATEMENTS) db.exec(statement);
  prepared.add(db);
}
