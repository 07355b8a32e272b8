import type { Database } from "bun:sqlite";
import type { SqlDb, SqlStatement } from "./sql.ts";
import journal from "./tenant-migrations/meta/_journal.json" with { type: "json" };
import m0000 from "./tenant-migrations/0000_tenant_tables.sql" with { type: "text" };
import m0001 from "./tenant-migrations/0001_origin.sql" with { type: "text" };

// drizzle-kit writes these from tenant-schema.ts. Files made before they were generated already hold
// the same tables (same names, columns and keys), so each statement runs only where its object is
// missing. That is right only for migrations that create tables and indexes: one that alters a table
// will need drizzle's migrator per file instead, and is refused here until then.
const SQL_BY_TAG: Record<string, string> = { "0000_tenant_tables": m0000, "0001_origin": m0001 };

function statementsOf(tag: string): string[] {
  const text = SQL_BY_TAG[tag];
  if (text === undefined) throw new Error(`tenant-file migration ${tag} is in the journal but not embedded in tenant-tables.ts`);
  return text
    .split("--> statement-breakpoint")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => {
      if (!/^CREATE (TABLE|INDEX) /.test(s)) throw new Error(`tenant-file migration ${tag} does more than create tables and indexes; see the note in tenant-tables.ts`);
      return s.replace(/^CREATE (TABLE|INDEX) /, "CREATE $1 IF NOT EXISTS ");
    });
}

const STATEMENTS = journal.entries.flatMap((e) => statementsOf(e.tag));
/** The origin table alone: the control plane holds it (its deployment's identity) but none of the relay's tables. */
const ORIGIN_STATEMENTS = statementsOf("0001_origin");

const prepared = new WeakSet<Database>();

/** Makes tenantgate's own tables in a tenant file where they are missing (once per open handle). */
export function ensureTenantTables(db: Database): void {
  if (prepared.has(db)) return;
  for (const statement of STATEMENTS) db.exec(statement);
  prepared.add(db);
}

const preparedIn = new WeakSet<SqlDb>();

/** ensureTenantTables on any engine: once per SqlDb, which a tenant store keeps as long as its handle. */
export async function ensureTenantTablesIn(db: SqlDb): Promise<void> {
  if (preparedIn.has(db)) return;
  await db.script(STATEMENTS.join(";\n"));
  preparedIn.add(db);
}

/** Which deployment and tenant a file belongs to (`tenantgate_origin`). */
export interface FileOrigin {
  deploymentId: string;
  tenantId: string;
}

/** The file's mark; undefined for a file never marked (made before marks existed). Reads only: a read-only handle will do. */
export function originOf(db: Database): FileOrigin | undefined {
  if (!db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tenantgate_origin'").get()) return undefined;
  const row = db.query("SELECT deployment_id, tenant_id FROM tenantgate_origin WHERE id = 1").get() as { deployment_id: string; tenant_id: string } | null;
  return row ? { deploymentId: row.deployment_id, tenantId: row.tenant_id } : undefined;
}

/**
 * The statements that mark a database as `origin`'s (for either engine), replacing any mark it had;
 * with `keep`, a mark already there stays.
 */
export function originMark(origin: FileOrigin, opts: { keep?: boolean } = {}): SqlStatement[] {
  const conflict = opts.keep ? "DO NOTHING" : "DO UPDATE SET deployment_id = ?1, tenant_id = ?2, marked_at = ?3";
  return [
    ...ORIGIN_STATEMENTS.map((sql) => ({ sql })),
    {
      sql: `INSERT INTO tenantgate_origin (id, deployment_id, tenant_id, marked_at) VALUES (1, ?1, ?2, ?3) ON CONFLICT (id) ${conflict}`,
      args: [origin.deploymentId, origin.tenantId, new Date().toISOString()],
    },
  ];
}

/** Marks the file as `origin`'s, replacing any mark it had. */
export function markOrigin(db: Database, origin: FileOrigin): void {
  for (const { sql, args } of originMark(origin)) db.query(sql).run(...((args ?? []) as never[]));
}

/**
 * Forgets the file's sync cursor: the relay reads a file without one as never synced and makes it a
 * full copy of the control plane's synced entities (see sync/tenant-sync.ts).
 */
export function forgetCursor(db: Database): void {
  ensureTenantTables(db);
  db.exec("DELETE FROM tenantgate_sync");
}
