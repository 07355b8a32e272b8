import { columnsIn, ensureTenantTablesIn, type SqlDb, type SqlValue, type SqlWriter } from "../storage/files.ts";
import { copyFor, type EntityState, type Row, type SyncRules } from "./entities.ts";
import { entityOf, SYNCED_ENTITIES, type EntityKind } from "../synced-entities.ts";

/** The tenant's cursor: the last outbox seq whose changes it holds (0 for a file never synced). */
export async function cursorOf(db: SqlDb): Promise<number> {
  await ensureTenantTablesIn(db);
  return (await db.get<{ cursor: number }>("SELECT cursor FROM tenantgate_sync WHERE id = 1"))?.cursor ?? 0;
}

export interface Conflict {
  entity: EntityKind;
  entity_id: string;
  key_value: string;
  tenant_entity_id: string;
  detected_at: string;
}

export async function conflictsOf(db: SqlDb): Promise<Conflict[]> {
  await ensureTenantTablesIn(db);
  return db.all<Conflict>("SELECT entity, entity_id, key_value, tenant_entity_id, detected_at FROM tenantgate_sync_conflicts ORDER BY entity, entity_id");
}

export interface ApplyResult {
  /** Rows written or removed because they differed from the control plane. */
  changed: number;
  conflicts: number;
}

/**
 * Makes the tenant's copies of `states` equal to the control plane's and sets the cursor to `seq`,
 * in one transaction. With `complete`, `states` is the whole syncable set and synced copies not in
 * it are removed too (a reconcile). A tenant-owned entity is never overwritten or deleted: a clash
 * with one is recorded as a conflict and the rest applies.
 */
export async function applyStates(db: SqlDb, tenantId: string, states: readonly EntityState[], seq: number, rules: SyncRules, complete = false): Promise<ApplyResult> {
  await ensureTenantTablesIn(db);
  // Read outside the transaction, where they are cached for as long as the store keeps this database.
  const columns = new Map<string, Set<string>>();
  for (const spec of SYNCED_ENTITIES) columns.set(spec.table, await columnsIn(db, spec.table));
  const result: ApplyResult = { changed: 0, conflicts: 0 };
  await db.transaction(async (tx) => {
    // Looked up once per batch rather than per entity: most tenants have no conflicts to clear and no
    // permission rows left under a role id that has no role (which a new copy's set would collide with).
    const ctx: BatchContext = {
      hasConflicts: (await tx.get("SELECT 1 FROM tenantgate_sync_conflicts LIMIT 1")) !== undefined,
      orphanPermissionRoles: new Set(
        (await tx.all<{ role_id: string }>("SELECT DISTINCT role_id FROM role_permissions WHERE role_id NOT IN (SELECT id FROM roles)")).map((r) => r.role_id),
      ),
      columns,
    };
    for (const state of states) await applyOne(tx, tenantId, state, seq, rules, result, ctx);
    if (complete) {
      const wanted = new Set(states.map((s) => `${s.kind}:${s.id}`));
      for (const spec of SYNCED_ENTITIES) {
        const copies = await tx.all<{ id: string }>(`SELECT id FROM ${spec.table} WHERE is_system = 1`);
        for (const { id } of copies) {
          if (!wanted.has(`${spec.kind}:${id}`)) await applyOne(tx, tenantId, { kind: spec.kind, id, row: null }, seq, rules, result, ctx);
        }
      }
      // A conflict of an entity the control plane no longer syncs (no copy to remove, so not met above) is over.
      const listed = await tx.all<{ entity: string; entity_id: string }>("SELECT entity, entity_id FROM tenantgate_sync_conflicts");
      for (const c of listed) {
        if (!wanted.has(`${c.entity}:${c.entity_id}`)) await tx.run("DELETE FROM tenantgate_sync_conflicts WHERE entity = ? AND entity_id = ?", [c.entity, c.entity_id]);
      }
    }
    await tx.run("INSERT INTO tenantgate_sync (id, cursor, updated_at) VALUES (1, ?1, ?2) ON CONFLICT (id) DO UPDATE SET cursor = ?1, updated_at = ?2", [seq, new Date().toISOString()]);
    result.conflicts = ((await tx.get<{ n: number }>("SELECT count(*) AS n FROM tenantgate_sync_conflicts")) as { n: number }).n;
  });
  return result;
}

interface BatchContext {
  hasConflicts: boolean;
  orphanPermissionRoles: Set<string>;
  /** Each synced table's columns in this tenant's database. */
  columns: Map<string, Set<string>>;
}

async function applyOne(tx: SqlWriter, tenantId: string, state: EntityState, seq: number, rules: SyncRules, result: ApplyResult, ctx: BatchContext): Promise<void> {
  const spec = entityOf(state.kind);
  // One query finds both the row with this id and any row holding its unique key (a burst of many
  // entities per tenant pays per statement).
  const key = state.row ? (state.row[spec.uniqueKey] as string) : undefined;
  // Scoped to the tenant's id so AuthHero's (tenant_id, id) and (tenant_id, key) indexes serve it
  // (connections have none on their name; a tenant holds few).
  const found =
    key === undefined
      ? await tx.all<Row>(`SELECT * FROM ${spec.table} WHERE tenant_id = ?1 AND id = ?2`, [tenantId, state.id])
      : await tx.all<Row>(`SELECT * FROM ${spec.table} WHERE tenant_id = ?1 AND (id = ?2 OR ${spec.uniqueKey} = ?3)`, [tenantId, state.id, key]);
  const existing = found.find((r) => r.id === state.id) ?? null;
  if (ctx.hasConflicts) await tx.run("DELETE FROM tenantgate_sync_conflicts WHERE entity = ? AND entity_id = ?", [state.kind, state.id]);

  if (state.row === null) {
    // Gone from the control plane or no longer syncable: remove the copy, never a tenant's own row.
    if (existing && existing.is_system === 1) {
      await removeCopy(tx, spec.table, state);
      result.changed++;
    }
    return;
  }
  if (existing && existing.is_system !== 1) return conflict(tx, state, String(key ?? state.id), state.id, result);
  const others = found.filter((r) => r.id !== state.id);
  const owner = others.find((r) => r.is_system !== 1);
  if (owner) {
    // The copy of this entity's earlier state (e.g. before a rename onto the tenant's key) must not
    // stay behind as if it were still the control plane's.
    if (existing) {
      await removeCopy(tx, spec.table, { kind: state.kind, id: state.id, row: null });
      result.changed++;
    }
    return conflict(tx, state, String(key), owner.id as string, result);
  }
  // A synced copy holding a key the control plane keeps unique, under another id, is stale: drop it.
  // (Two control-plane connections may share a name: both copies stay.)
  if (spec.keyIsUnique) for (const other of others) await removeCopy(tx, spec.table, { kind: state.kind, id: other.id as string, row: null });

  const copy = copyFor(state, tenantId, rules);
  if (existing) {
    const permissionsChanged = state.kind === "role" && !(await samePermissions(tx, state));
    if (sameRow(existing, copy) && !permissionsChanged) return;
    await removeCopy(tx, spec.table, state);
  }
  const cols = [...(ctx.columns.get(spec.table) ?? [])].filter((c) => c in copy);
  await tx.run(`INSERT INTO ${spec.table} (${cols.map((c) => `"${c}"`).join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`, cols.map((c) => copy[c]) as SqlValue[]);
  if (state.kind === "role") {
    // Permission rows left under this role id (by an earlier copy) would collide with the new set.
    if (!existing && ctx.orphanPermissionRoles.has(state.id)) await tx.run("DELETE FROM role_permissions WHERE role_id = ?", [state.id]);
    for (const p of state.permissions ?? [])
      await tx.run("INSERT INTO role_permissions (tenant_id, role_id, resource_server_identifier, permission_name, created_at) VALUES (?, ?, ?, ?, ?)", [
        tenantId,
        state.id,
        p.resource_server_identifier,
        p.permission_name,
        p.created_at,
      ]);
  }
  result.changed++;
}

async function removeCopy(tx: SqlWriter, table: string, state: EntityState): Promise<void> {
  await tx.run(`DELETE FROM ${table} WHERE id = ? AND is_system = 1`, [state.id]);
  if (state.kind === "role") await tx.run("DELETE FROM role_permissions WHERE role_id = ?", [state.id]);
}

async function conflict(tx: SqlWriter, state: EntityState, keyValue: string, tenantEntityId: string, result: ApplyResult): Promise<void> {
  await tx.run("INSERT INTO tenantgate_sync_conflicts (entity, entity_id, key_value, tenant_entity_id, detected_at) VALUES (?, ?, ?, ?, ?)", [
    state.kind,
    state.id,
    keyValue,
    tenantEntityId,
    new Date().toISOString(),
  ]);
  result.conflicts++;
}

function sameRow(existing: Row, copy: Row): boolean {
  for (const [col, value] of Object.entries(copy)) if (col in existing && existing[col] !== value) return false;
  return true;
}

async function samePermissions(tx: SqlWriter, state: EntityState): Promise<boolean> {
  const have = await tx.all<{ resource_server_identifier: string; permission_name: string }>(
    "SELECT resource_server_identifier, permission_name FROM role_permissions WHERE role_id = ? ORDER BY resource_server_identifier, permission_name",
    [state.id],
  );
  const want = state.permissions ?? [];
  return have.length === want.length && have.every((p, i) => p.resource_server_identifier === want[i]?.resource_server_identifier && p.permission_name === want[i]?.permission_name);
}
