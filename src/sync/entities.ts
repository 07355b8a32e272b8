import type { SqlReader } from "../storage/files.ts";
import { withoutSecrets } from "../secret-options.ts";
import { entityOf, SYNCED_ENTITIES, type EntityKind } from "../synced-entities.ts";

export type Row = Record<string, unknown>;

export interface Permission {
  resource_server_identifier: string;
  permission_name: string;
  created_at: string;
}

/** The control plane's current state of one entity: its row (null when gone or not syncable). */
export interface EntityState {
  kind: EntityKind;
  id: string;
  row: Row | null;
  /** A role's whole permission set. */
  permissions?: Permission[];
}

export interface SyncRules {
  controlPlane: string;
  /** Per kind: is it synced at all (`--sync-roles` and friends). */
  enabled: Record<EntityKind, boolean>;
  /** Every `key=value` here must hold in the entity's metadata for it to be synced. */
  filter: readonly { key: string; value: string }[];
  /**
   * Connection options never copied, nor their hints (a key, or a dotted path into a nested object);
   * the AuthHero module's login adapter fills them in at read time.
   */
  secretKeys: readonly string[];
}

/** Parses `--sync-filter` entries (`key=value`). */
export function parseFilter(entries: readonly string[]): { key: string; value: string }[] {
  return entries.map((e) => {
    const at = e.indexOf("=");
    if (at <= 0) throw new Error(`sync filter "${e}" is not key=value`);
    return { key: e.slice(0, at), value: e.slice(at + 1) };
  });
}

function metadataOf(row: Row): Record<string, unknown> {
  const raw = row.metadata;
  if (typeof raw !== "string" || raw === "") return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Whether a control-plane row is copied into tenants: its kind is on, `metadata.sync !== false`, the filter holds. */
export function isSyncable(kind: EntityKind, row: Row, rules: SyncRules): boolean {
  if (!rules.enabled[kind]) return false;
  const meta = metadataOf(row);
  if (meta.sync === false || meta.sync === "false") return false;
  return rules.filter.every(({ key, value }) => {
    const v = meta[key];
    return v !== undefined && (typeof v === "string" ? v : JSON.stringify(v)) === value;
  });
}

/** Reads the control plane's current state of the given entities (call inside one snapshot). */
export async function readStates(cp: SqlReader, wanted: Iterable<{ kind: EntityKind; id: string }>, rules: SyncRules): Promise<EntityState[]> {
  const out: EntityState[] = [];
  for (const { kind, id } of wanted) {
    const spec = entityOf(kind);
    const row = (await cp.get<Row>(`SELECT * FROM ${spec.table} WHERE tenant_id = ? AND id = ?`, [rules.controlPlane, id])) ?? null;
    const syncable = row !== null && isSyncable(kind, row, rules);
    out.push({ kind, id, row: syncable ? row : null, permissions: syncable && kind === "role" ? await permissionsOf(cp, rules.controlPlane, id) : undefined });
  }
  return out;
}

/** Every syncable entity of the control plane (for seeding a new tenant and for reconciling). */
export async function readAllStates(cp: SqlReader, rules: SyncRules): Promise<EntityState[]> {
  const out: EntityState[] = [];
  for (const spec of SYNCED_ENTITIES) {
    if (!rules.enabled[spec.kind]) continue;
    const rows = await cp.all<Row>(`SELECT * FROM ${spec.table} WHERE tenant_id = ? ORDER BY id`, [rules.controlPlane]);
    for (const row of rows) {
      if (!isSyncable(spec.kind, row, rules)) continue;
      const id = row.id as string;
      out.push({ kind: spec.kind, id, row, permissions: spec.kind === "role" ? await permissionsOf(cp, rules.controlPlane, id) : undefined });
    }
  }
  return out;
}

function permissionsOf(cp: SqlReader, controlPlane: string, roleId: string): Promise<Permission[]> {
  return cp.all<Permission>(
    "SELECT resource_server_identifier, permission_name, created_at FROM role_permissions WHERE tenant_id = ? AND role_id = ? ORDER BY resource_server_identifier, permission_name",
    [controlPlane, roleId],
  );
}

/**
 * The copy written into a tenant: same id and values (metadata too, so AuthHero reads the copy
 * exactly as it reads the original), the tenant's id, marked synced (`is_system`), secrets removed:
 * whatever a tenant file holds, the tenant's admin can read through AuthHero's management API.
 */
export function copyFor(state: EntityState, tenantId: string, rules: SyncRules): Row {
  const row = { ...(state.row as Row) };
  row.tenant_id = tenantId;
  row.is_system = 1;
  for (const column of entityOf(state.kind).secretColumns) if (column in row) row[column] = null;
  if (state.kind === "connection" && typeof row.options === "string") row.options = stripSecrets(row.options, rules.secretKeys);
  return row;
}

function stripSecrets(options: string, secretKeys: readonly string[]): string {
  try {
    const parsed: unknown = JSON.parse(options);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return options;
    return JSON.stringify(withoutSecrets(parsed as Record<string, unknown>, secretKeys));
  } catch {
    // Options that are not JSON cannot be sorted into secret and not: copy none of them.
    return "{}";
  }
}
