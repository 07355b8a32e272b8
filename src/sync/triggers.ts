import { hasTableIn, SchemaMismatchError, type SqlDb } from "../storage/files.ts";
import { SYNCED_ENTITIES } from "../synced-entities.ts";

/** The outbox entity of an organization change: not synced into tenants, only heard by the gateway. */
export const ORGANIZATION_ENTITY = "organization";

/** Which control-plane table feeds which entity of the outbox, and under which id column. */
const CAPTURED: { table: string; entity: string; id: string }[] = [
  ...SYNCED_ENTITIES.flatMap(({ kind, capturedFrom }) => capturedFrom.map(({ table, id }) => ({ table, entity: kind, id }))),
  // Captured so the gateway's org→tenant caches hear of every change.
  { table: "organizations", entity: ORGANIZATION_ENTITY, id: "id" },
];

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

// Installed triggers are recognised by name alone (ensureTriggers): a file that has them keeps its
// text, so a change to the text below reaches only new files unless it comes with a migration.
function triggerSql(controlPlane: string): { name: string; sql: string }[] {
  const cp = quote(controlPlane);
  return CAPTURED.flatMap(({ table, entity, id }) => {
    const insert = (row: "NEW" | "OLD", op: string) => `INSERT INTO tenantgate_outbox (entity, entity_id, op) VALUES (${quote(entity)}, ${row}.${id}, ${quote(op)});`;
    return [
      {
        name: `tenantgate_${table}_insert`,
        sql: `CREATE TRIGGER IF NOT EXISTS tenantgate_${table}_insert AFTER INSERT ON ${table} WHEN NEW.tenant_id = ${cp} BEGIN ${insert("NEW", "insert")} END`,
      },
      {
        name: `tenantgate_${table}_update`,
        // An update that changes the id (or moves the row between tenants) is a delete of the old one too.
        sql: `CREATE TRIGGER IF NOT EXISTS tenantgate_${table}_update AFTER UPDATE ON ${table} WHEN NEW.tenant_id = ${cp} OR OLD.tenant_id = ${cp} BEGIN ${insert("NEW", "update")} INSERT INTO tenantgate_outbox (entity, entity_id, op) SELECT ${quote(entity)}, OLD.${id}, 'delete' WHERE OLD.${id} IS NOT NEW.${id}; END`,
      },
      {
        name: `tenantgate_${table}_delete`,
        sql: `CREATE TRIGGER IF NOT EXISTS tenantgate_${table}_delete AFTER DELETE ON ${table} WHEN OLD.tenant_id = ${cp} BEGIN ${insert("OLD", "delete")} END`,
      },
    ];
  });
}

/**
 * Installs the capture triggers (idempotent). Returns the names that were missing: a migration that
 * rebuilt a table dropped them, and writes made meanwhile were not captured.
 */
export async function ensureTriggers(db: SqlDb, controlPlane: string): Promise<string[]> {
  const wanted = triggerSql(controlPlane);
  const present = new Set((await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'tenantgate\\_%' ESCAPE '\\'")).map((r) => r.name));
  const missing = wanted.filter((t) => !present.has(t.name));
  if (missing.length === 0) return [];
  for (const { table } of CAPTURED) {
    if (!(await hasTableIn(db, table)))
      throw new SchemaMismatchError(`control plane: table "${table}" is missing, so its changes cannot be captured for sync`);
  }
  await db.transaction(async (tx) => {
    for (const t of missing) await tx.run(t.sql);
    // Writes made while triggers were missing were not captured. A marker committed with the new
    // triggers owes every tenant whose cursor is below it a full reconcile, and unlike a flag in
    // memory it survives a crash before the reconcile is done. A control plane without child tenants
    // (the first install) owes nobody anything.
    if (await tx.get("SELECT 1 FROM tenants WHERE id != ? LIMIT 1", [controlPlane]))
      await tx.run("INSERT INTO tenantgate_outbox (entity, entity_id, op) VALUES (?, '*', 'reconcile')", [RECONCILE_ENTITY]);
  });
  return missing.map((t) => t.name);
}

/** The outbox entity of a reconcile marker (not an entity kind: replays skip it). */
export const RECONCILE_ENTITY = "reconcile";

/** How many capture triggers should exist (for checks and tests). */
export const TRIGGER_COUNT = CAPTURED.length * 3;
