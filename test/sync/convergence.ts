// An oracle for the outbox, independent of src/sync: what a child tenant file must hold once the
// relay has caught up, computed from the control-plane file alone, and the list of every difference.
// Used by property.test.ts, relay.test.ts and crash.test.ts.
import { Database } from "bun:sqlite";

export type Row = Record<string, unknown>;

export const KINDS = [
  { kind: "resource_server", table: "resource_servers", key: "identifier" },
  { kind: "role", table: "roles", key: "name" },
  { kind: "connection", table: "connections", key: "name" },
] as const;

export const DEFAULT_SECRET_KEYS = ["client_secret", "secret", "private_key", "api_key", "twilio_token", "app_secret", "configuration.client_secret"];

/** The oracle's own reading of a secret path (`a.b` reaches into a nested object): it and its `_hint` are gone from a copy. */
function deleteSecret(options: Record<string, unknown>, path: string): void {
  const keys = path.split(".");
  let holder: unknown = options;
  for (const k of keys.slice(0, -1)) holder = typeof holder === "object" && holder !== null ? (holder as Record<string, unknown>)[k] : undefined;
  if (typeof holder !== "object" || holder === null || Array.isArray(holder)) return;
  const last = keys[keys.length - 1] as string;
  delete (holder as Record<string, unknown>)[last];
  delete (holder as Record<string, unknown>)[`${last}_hint`];
}

export interface OwnRows {
  /** table → id → the row exactly as it was read back right after the tenant wrote it. */
  rows: Record<string, Map<string, Row>>;
  /** role_permissions rows of the tenant's own roles. */
  permissions: Row[];
}

export function emptyOwnRows(): OwnRows {
  return { rows: { resource_servers: new Map(), roles: new Map(), connections: new Map() }, permissions: [] };
}

function parseObject(raw: unknown): Record<string, unknown> | null {
  if (typeof raw !== "string") return null;
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The design's rule: `metadata.sync !== false` (no filter configured in these tests). */
export function isSyncable(row: Row): boolean {
  const sync = parseObject(row.metadata)?.sync;
  return sync !== false && sync !== "false";
}

/** The head: the newest seq the outbox ever handed out (compaction may have deleted the row). */
export function headOf(cp: Database): number {
  const seq = cp.query("SELECT seq FROM sqlite_sequence WHERE name = 'tenantgate_outbox'").get() as { seq: number } | null;
  return seq?.seq ?? 0;
}

/** The newest event a tenant must have applied: organization events only refresh the gateway's caches. */
export function syncHeadOf(cp: Database): number {
  return (cp.query("SELECT coalesce(max(seq), 0) AS seq FROM tenantgate_outbox WHERE entity != 'organization'").get() as { seq: number }).seq;
}

export function cursorIn(db: Database): number | null {
  const hasTable = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tenantgate_sync'").get();
  if (!hasTable) return null;
  return (db.query("SELECT cursor FROM tenantgate_sync WHERE id = 1").get() as { cursor: number } | null)?.cursor ?? null;
}

const sortKey = (p: Row) => `${p.resource_server_identifier}\u0000${p.permission_name}`;
const permsOf = (db: Database, roleId: string, where = "") =>
  (db.query(`SELECT resource_server_identifier, permission_name FROM role_permissions WHERE role_id = ? ${where}`).all(roleId) as Row[]).map(sortKey).sort();

/**
 * Every way `tenant` differs from what it must hold: synced copies (is_system = 1) equal to the
 * control plane's syncable rows except tenant_id and is_system (connection
 * options without secrets nor their hints, resource servers without signing_secret), role permission sets equal, every syncable entity without a copy
 * listed as a conflict with a real tenant-owned clash (and no other conflicts), no orphan
 * permissions, tenant-owned rows exactly as written, cursor at the head.
 */
export function divergences(
  cp: Database,
  tenant: Database,
  tenantId: string,
  opts: { controlPlane?: string; secretKeys?: readonly string[]; own?: OwnRows; head?: number } = {},
): string[] {
  const controlPlane = opts.controlPlane ?? "control_plane";
  const secretKeys = opts.secretKeys ?? DEFAULT_SECRET_KEYS;
  const out: string[] = [];
  const conflicts = tenant.query("SELECT 1 FROM sqlite_master WHERE name = 'tenantgate_sync_conflicts'").get()
    ? (tenant.query("SELECT entity, entity_id, key_value, tenant_entity_id FROM tenantgate_sync_conflicts").all() as Row[])
    : [];
  const knownRoleIds = new Set<string>();

  for (const { kind, table, key } of KINDS) {
    const wanted = new Map((cp.query(`SELECT * FROM ${table} WHERE tenant_id = ?`).all(controlPlane) as Row[]).filter(isSyncable).map((r) => [r.id as string, r]));
    const copies = new Map((tenant.query(`SELECT * FROM ${table} WHERE is_system = 1`).all() as Row[]).map((r) => [r.id as string, r]));
    const own = tenant.query(`SELECT * FROM ${table} WHERE is_system IS NOT 1 ORDER BY id`).all() as Row[];
    const listed = new Map(conflicts.filter((c) => c.entity === kind).map((c) => [c.entity_id as string, c]));
    if (kind === "role") for (const id of [...copies.keys(), ...own.map((r) => r.id as string)]) knownRoleIds.add(id);

    for (const [id, copy] of copies) {
      const want = wanted.get(id);
      if (!want) {
        out.push(`${kind} ${id}: stale copy (name/identifier ${JSON.stringify(copy[key])}) that the control plane does not sync`);
        continue;
      }
      if (copy.tenant_id !== tenantId) out.push(`${kind} ${id}: copy has tenant_id ${JSON.stringify(copy.tenant_id)}`);
      for (const col of Object.keys(want)) {
        if (col === "tenant_id" || col === "is_system") continue;
        if (col === "options" && kind === "connection") {
          const expected = parseObject(want.options);
          if (expected) for (const k of secretKeys) deleteSecret(expected, k);
          const got = parseObject(copy.options);
          if (!Bun.deepEquals(got, expected ?? {})) out.push(`${kind} ${id}: options ${copy.options} != ${JSON.stringify(expected)}`);
        } else if (kind === "resource_server" && col === "signing_secret") {
          if (copy[col] !== null) out.push(`${kind} ${id}: copy holds the control plane's signing_secret`);
        } else if (!Object.is(copy[col], want[col])) {
          out.push(`${kind} ${id}: ${col} ${JSON.stringify(copy[col])} != ${JSON.stringify(want[col])}`);
        }
      }
      if (kind === "role") {
        const have = permsOf(tenant, id);
        const expected = permsOf(cp, id, `AND tenant_id = '${controlPlane}'`);
        if (JSON.stringify(have) !== JSON.stringify(expected)) out.push(`role ${id}: permissions [${have.join(", ")}] != [${expected.join(", ")}]`.replace(/\u0000/g, " "));
        const foreign = tenant.query("SELECT count(*) AS n FROM role_permissions WHERE role_id = ? AND tenant_id IS NOT ?").get(id, tenantId) as { n: number };
        if (foreign.n > 0) out.push(`role ${id}: ${foreign.n} permission rows with another tenant_id`);
      }
      if (listed.has(id)) out.push(`${kind} ${id}: has a copy but is listed as a conflict`);
    }

    for (const [id, want] of wanted) {
      if (copies.has(id)) continue;
      // Tenant-owned entities it clashes with: same id, or same unique key.
      const clashes = own.filter((r) => r.id === id || r[key] === want[key]).map((r) => r.id);
      const conflict = listed.get(id);
      if (clashes.length === 0) out.push(`${kind} ${id}: missing (no copy and no tenant-owned entity clashes with it)`);
      else if (!conflict) out.push(`${kind} ${id}: clashes with tenant-owned ${clashes.join(", ")} but no conflict is listed`);
      else if (!clashes.includes(conflict.tenant_entity_id)) out.push(`${kind} ${id}: conflict names tenant entity ${conflict.tenant_entity_id}, the clashes are ${clashes.join(", ")}`);
      else if (conflict.key_value !== String(want[key])) out.push(`${kind} ${id}: conflict key_value ${JSON.stringify(conflict.key_value)} != ${JSON.stringify(want[key])}`);
    }
    for (const id of listed.keys()) if (!wanted.has(id)) out.push(`${kind} ${id}: conflict listed for an entity the control plane does not sync`);

    if (opts.own) {
      const expected = [...(opts.own.rows[table] ?? new Map()).values()].sort((a, b) => String(a.id).localeCompare(String(b.id)));
      const got = [...own].sort((a, b) => String(a.id).localeCompare(String(b.id)));
      if (!Bun.deepEquals(got, expected, true)) out.push(`${table}: tenant-owned rows changed:\n  got      ${JSON.stringify(got)}\n  expected ${JSON.stringify(expected)}`);
    }
  }

  const orphans = tenant.query("SELECT DISTINCT role_id FROM role_permissions").all() as { role_id: string }[];
  for (const { role_id } of orphans) if (!knownRoleIds.has(role_id)) out.push(`role_permissions: orphan rows for role ${role_id}`);
  if (opts.own) {
    const ownRoleIds = new Set(opts.own.rows.roles?.keys() ?? []);
    const got = (tenant.query("SELECT * FROM role_permissions").all() as Row[]).filter((p) => ownRoleIds.has(p.role_id as string));
    const key = (p: Row) => JSON.stringify(p);
    if (JSON.stringify(got.map(key).sort()) !== JSON.stringify(opts.own.permissions.map(key).sort())) out.push(`role_permissions of tenant-owned roles changed: ${JSON.stringify(got)}`);
  }

  // At least the last synced change, at most the head (organization events after it are not owed).
  const head = opts.head ?? headOf(cp);
  const owed = Math.min(head, syncHeadOf(cp));
  const cursor = cursorIn(tenant);
  if (cursor === null || cursor < owed || cursor > head) out.push(`cursor ${cursor} != head ${head} (owed ${owed})`);
  return out;
}

/** Opens a file read-only for `fn` (never a writer: tests must not take locks they do not mean to). */
export function readOnly<T>(path: string, fn: (db: Database) => T): T {
  const db = new Database(path, { readonly: true });
  try {
    // A reader beside a live writer can meet a moment's lock while it checkpoints: wait, as AuthHero would.
    db.exec("PRAGMA busy_timeout = 5000");
    return fn(db);
  } finally {
    db.close(false);
  }
}

/**
 * SQLite's way to alter a table, as an AuthHero migration does it: create the new table, copy, drop
 * the old one, rename, re-create its indexes. Dropping the table drops its triggers too.
 */
export function rebuildTable(db: Database, table: string): void {
  db.transaction(() => {
    const { sql } = db.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) as { sql: string };
    const indexes = db.query("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL").all(table) as { sql: string }[];
    db.exec(sql.replace(/^CREATE TABLE (IF NOT EXISTS )?"?\w+"?/, `CREATE TABLE ${table}_new`));
    db.exec(`INSERT INTO ${table}_new SELECT * FROM ${table}`);
    db.exec(`DROP TABLE ${table}`);
    db.exec(`ALTER TABLE ${table}_new RENAME TO ${table}`);
    for (const index of indexes) db.exec(index.sql);
  })();
}
