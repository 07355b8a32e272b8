import type { Database } from "bun:sqlite";
import { HttpError } from "../http-error.ts";
import type { HandlePool } from "../storage/pool.ts";

/** AuthHero management collections whose control-plane entities are synced into child tenants. */
const SYNCED: Record<string, { table: string; noun: string; lookup: string }> = {
  "resource-servers": {
    table: "resource_servers",
    noun: "resource server",
    // The management API addresses a resource server by id or, Auth0-style, by its identifier.
    lookup: "SELECT id, name, is_system FROM resource_servers WHERE id = ?1 OR identifier = ?1",
  },
  roles: { table: "roles", noun: "role", lookup: "SELECT id, name, is_system FROM roles WHERE id = ?1" },
  connections: { table: "connections", noun: "connection", lookup: "SELECT id, name, is_system FROM connections WHERE id = ?1" },
};

/** Creating one of these with a synced entity's unique key would shadow or collide with the copy. */
const UNIQUE_ON_CREATE: Record<string, { field: string; sql: string; noun: string }> = {
  "resource-servers": {
    field: "identifier",
    noun: "resource server with identifier",
    sql: "SELECT id FROM resource_servers WHERE identifier = ? AND is_system = 1",
  },
  roles: { field: "name", noun: "role named", sql: "SELECT id FROM roles WHERE name = ? AND is_system = 1" },
};

/** Sub-paths of a synced entity that stay writable: assigning users to a synced role. */
const WRITABLE_SUBPATHS = new Set(["roles/users"]);

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export interface ProtectionCheck {
  /** Every method the request could be read as (its own, and any override it carries). */
  methods: ReadonlySet<string>;
  /** The path's readings after the management prefix (see management-path.ts). */
  readings: readonly string[][];
  /** Reads the body of a create, for the unique-key check; called only when needed. */
  body: () => Promise<unknown>;
}

/**
 * Refuses writes to synced copies in a child tenant's file (`is_system = 1`): 403 with where to make
 * the change instead. Lookups that fail refuse the write (503): the guard fails closed.
 */
export class SyncedEntityGuard {
  constructor(private readonly pool: HandlePool) {}

  async check(tenant: string, req: ProtectionCheck): Promise<void> {
    if (![...req.methods].some((m) => WRITES.has(m))) return;
    for (const segments of req.readings) {
      const [collection, id, ...rest] = segments;
      const key = collection?.toLowerCase();
      if (key === undefined || !(key in SYNCED)) continue;
      if (id === undefined) {
        if (req.methods.has("POST")) await this.checkCreate(tenant, key, req);
        continue;
      }
      if (rest.length === 1 && WRITABLE_SUBPATHS.has(`${key}/${rest[0]?.toLowerCase()}`)) continue;
      const synced = this.lookup(tenant, (db) => db.query(SYNCED[key]!.lookup).get(id) as { id: string; name: string; is_system: number } | null);
      if (synced && synced.is_system === 1) {
        const what = SYNCED[key]!.noun;
        throw new HttpError(403, `${what} "${synced.name}" (${synced.id}) is synced from the control plane and cannot be changed in tenant "${tenant}"; change it on the control plane`);
      }
    }
  }

  private async checkCreate(tenant: string, collection: string, req: ProtectionCheck): Promise<void> {
    const rule = UNIQUE_ON_CREATE[collection];
    if (!rule) return;
    const body = await req.body();
    const value = typeof body === "object" && body !== null ? (body as Record<string, unknown>)[rule.field] : undefined;
    if (typeof value !== "string") return; // AuthHero refuses a body without it.
    const clash = this.lookup(tenant, (db) => db.query(rule.sql).get(value) as { id: string } | null);
    if (clash)
      throw new HttpError(409, `a ${rule.noun} "${value}" is synced from the control plane into tenant "${tenant}" (${clash.id}); a tenant cannot create its own`);
  }

  private lookup<T>(tenant: string, read: (db: Database) => T): T {
    try {
      return read(this.pool.get(tenant));
    } catch (err) {
      throw new HttpError(503, `cannot check tenant "${tenant}" for synced entities (${(err as Error).message}); the write is refused`);
    }
  }
}
