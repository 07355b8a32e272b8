import { causedBy, columnsIn, ensureTenantTablesIn, type SqlDb, type SqlStatement, type SqlValue } from "../storage/files.ts";
import type { ApplyResult } from "./apply.ts";
import { copyFor, type EntityState, type SyncRules } from "./entities.ts";
import { entityOf, SYNCED_ENTITIES } from "../synced-entities.ts";

/** A marker a statement raises to abort its batch: SQLite's json() refuses text that is not JSON. */
const ABORT = "json('tenantgate: the cursor moved')";

/**
 * `applyStates` (apply.ts) for a database across a network, as one batch of statements sent in one
 * request: the same rules, decided by SQL inside the batch instead of by reads in between. The first
 * statement aborts the batch (nothing written) unless the tenant's cursor is still `from`, which the
 * relay read or remembered; undefined then, and the caller applies the usual way. Used for the
 * incremental apply only: a full copy (a reconcile) lists what to remove, which takes a read.
 */
export async function applyStatesInOneBatch(db: SqlDb, tenantId: string, states: readonly EntityState[], from: number, seq: number, rules: SyncRules): Promise<ApplyResult | undefined> {
  await ensureTenantTablesIn(db);
  const columns = new Map<string, Set<string>>();
  for (const spec of SYNCED_ENTITIES) columns.set(spec.table, await columnsIn(db, spec.table));
  const now = new Date().toISOString();
  const statements: SqlStatement[] = [{ sql: `SELECT CASE WHEN coalesce((SELECT cursor FROM tenantgate_sync WHERE id = 1), 0) = ? THEN 1 ELSE ${ABORT} END`, args: [from] }];
  /** Indexes of the statements whose changed rows count as `changed`. */
  const counted: number[] = [];
  for (const state of states) statementsFor(state, tenantId, rules, columns, now, statements, counted);
  statements.push({ sql: "INSERT INTO tenantgate_sync (id, cursor, updated_at) VALUES (1, ?1, ?2) ON CONFLICT (id) DO UPDATE SET cursor = ?1, updated_at = ?2", args: [seq, now] });
  statements.push({ sql: "SELECT count(*) AS n FROM tenantgate_sync_conflicts" });
  let answers: { changes: number; rows: Record<string, unknown>[] }[];
  try {
    answers = await db.batchRows(statements);
  } catch (err) {
    if (causedBy(err, (e) => /tenantgate: the cursor moved|malformed JSON/.test(e.message))) return undefined;
    throw err;
  }
  return {
    changed: counted.reduce((n, i) => n + (answers[i]?.changes ?? 0), 0),
    conflicts: Number(answers.at(-1)?.rows[0]?.n ?? 0),
  };
}

function statementsFor(state: EntityState, tenantId: string, rules: SyncRules, columns: Map<string, Set<string>>, now: string, out: SqlStatement[], counted: number[]): void {
  const spec = entityOf(state.kind);
  const t = spec.table;
  const isRole = state.kind === "role";
  out.push({ sql: "DELETE FROM tenantgate_sync_conflicts WHERE entity = ? AND entity_id = ?", args: [state.kind, state.id] });
  if (state.row === null) {
    // Gone from the control plane or no longer syncable: remove the copy, never a tenant's own row.
    if (isRole) out.push({ sql: "DELETE FROM role_permissions WHERE role_id = ?1 AND EXISTS (SELECT 1 FROM roles WHERE id = ?1 AND is_system = 1)", args: [state.id] });
    counted.push(out.length);
    out.push({ sql: `DELETE FROM ${t} WHERE tenant_id = ? AND id = ? AND is_system = 1`, args: [tenantId, state.id] });
    return;
  }
  const key = state.row[spec.uniqueKey] as string;
  // ?1 tenant, ?2 id, ?3 key: the tenant's own entity under this id, or holding this key under another.
  const ownId = `EXISTS (SELECT 1 FROM ${t} WHERE tenant_id = ?1 AND id = ?2 AND is_system IS NOT 1)`;
  const ownKey = `EXISTS (SELECT 1 FROM ${t} WHERE tenant_id = ?1 AND ${spec.uniqueKey} = ?3 AND id != ?2 AND is_system IS NOT 1)`;
  const free = `NOT ${ownId} AND NOT ${ownKey}`;
  const ids = [tenantId, state.id, key] as SqlValue[];
  const conflict = "INSERT INTO tenantgate_sync_conflicts (entity, entity_id, key_value, tenant_entity_id, detected_at) SELECT ?4, ?2, ?5, ";
  // A conflict with the tenant's own entity of this id; or with its own entity holding the key, whose
  // copy of this entity's earlier state (from before a rename onto that key) then goes.
  out.push({ sql: `${conflict} ?2, ?6 WHERE ${ownId}`, args: [...ids, state.kind, String(key ?? state.id), now] });
  out.push({
    sql: `${conflict} (SELECT id FROM ${t} WHERE tenant_id = ?1 AND ${spec.uniqueKey} = ?3 AND id != ?2 AND is_system IS NOT 1 LIMIT 1), ?6 WHERE NOT ${ownId} AND ${ownKey}`,
    args: [...ids, state.kind, String(key), now],
  });
  counted.push(out.length);
  out.push({ sql: `DELETE FROM ${t} WHERE id = ?2 AND is_system = 1 AND NOT ${ownId} AND ${ownKey}`, args: ids });
  // A synced copy holding a key the control plane keeps unique, under another id, is stale: it goes.
  if (spec.keyIsUnique) {
    if (isRole) out.push({ sql: `DELETE FROM role_permissions WHERE role_id IN (SELECT id FROM roles WHERE tenant_id = ?1 AND name = ?3 AND id != ?2 AND is_system = 1) AND ${free}`, args: ids });
    out.push({ sql: `DELETE FROM ${t} WHERE tenant_id = ?1 AND ${spec.uniqueKey} = ?3 AND id != ?2 AND is_system = 1 AND ${free}`, args: ids });
  }
  // The copy is replaced when it differs from the control plane's row (or, for a role, its permissions do).
  const copy = copyFor(state, tenantId, rules);
  const cols = [...(columns.get(t) ?? [])].filter((c) => c in copy);
  const args: SqlValue[] = [...ids];
  const same = cols.map((c) => {
    args.push(copy[c] as SqlValue);
    return `"${c}" IS ?${args.length}`;
  });
  const wanted = isRole ? permissionSet(state) : null;
  let differs = `NOT (${same.join(" AND ") || "1"})`;
  if (isRole) {
    args.push(wanted);
    differs = `(${differs} OR (${HAVE_PERMISSIONS}) IS NOT ?${args.length})`;
  }
  // A replaced role copy takes its permission rows with it; the new copy's are inserted below.
  if (isRole) out.push({ sql: `DELETE FROM role_permissions WHERE role_id = ?2 AND EXISTS (SELECT 1 FROM roles WHERE id = ?2 AND is_system = 1 AND ${differs}) AND ${free}`, args });
  out.push({ sql: `DELETE FROM ${t} WHERE id = ?2 AND is_system = 1 AND ${differs} AND ${free}`, args });
  // Inserted where no row has this id now (the copy was absent or just removed) and no own entity has its key.
  const values: SqlValue[] = [...ids];
  const placeholders = cols.map((c) => {
    values.push(copy[c] as SqlValue);
    return `?${values.length}`;
  });
  counted.push(out.length);
  out.push({ sql: `INSERT INTO ${t} (${cols.map((c) => `"${c}"`).join(", ")}) SELECT ${placeholders.join(", ")} WHERE NOT EXISTS (SELECT 1 FROM ${t} WHERE id = ?2) AND NOT ${ownKey}`, args: values });
  if (!isRole) return;
  // The role's permissions: those of a copy that was replaced (or left under an id with no role) go,
  // and the control plane's set is the copy's.
  out.push({ sql: "DELETE FROM role_permissions WHERE role_id = ?1 AND NOT EXISTS (SELECT 1 FROM roles WHERE id = ?1)", args: [state.id] });
  out.push({ sql: `DELETE FROM role_permissions WHERE role_id = ?1 AND EXISTS (SELECT 1 FROM roles WHERE id = ?1 AND is_system = 1) AND (${HAVE_PERMISSIONS.replaceAll("?2", "?1")}) IS NOT ?2`, args: [state.id, wanted] });
  for (const p of state.permissions ?? [])
    out.push({
      sql: "INSERT INTO role_permissions (tenant_id, role_id, resource_server_identifier, permission_name, created_at) SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM roles WHERE id = ?2 AND is_system = 1) AND NOT EXISTS (SELECT 1 FROM role_permissions WHERE role_id = ?2 AND resource_server_identifier = ?3 AND permission_name = ?4)",
      args: [tenantId, state.id, p.resource_server_identifier, p.permission_name, p.created_at],
    });
}

/** A role's permissions as one text (?2: the role id), the same way `permissionSet` writes the control plane's. */
const HAVE_PERMISSIONS =
  "SELECT group_concat(p, char(30)) FROM (SELECT resource_server_identifier || char(31) || permission_name AS p FROM role_permissions WHERE role_id = ?2 ORDER BY resource_server_identifier, permission_name)";

function permissionSet(state: EntityState): string | null {
  const list = (state.permissions ?? []).map((p) => `${p.resource_server_identifier}\x1f${p.permission_name}`).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return list.length === 0 ? null : list.join("\x1e");
}
