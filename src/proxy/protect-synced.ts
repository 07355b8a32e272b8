import { HttpError } from "../http-error.ts";
import type { SqlDb, TenantAccess } from "../storage/files.ts";
import { SYNCED_ENTITIES, type SyncedEntity } from "../synced-entities.ts";

interface GuardedCollection {
  entity: SyncedEntity;
  /** Finds a tenant's copy by the id a management path gives (any column the API addresses it by). */
  lookup: string;
  /** A tenant's own entity created or renamed with a synced entity's key would shadow or collide with the copy. */
  clash: { key: string; sql: string; phrase: string };
}

/** AuthHero management collections whose control-plane entities are synced into child tenants. */
const GUARDED = new Map<string, GuardedCollection>(
  SYNCED_ENTITIES.map((entity) => [
    entity.collection,
    {
      entity,
      lookup: `SELECT id, name, is_system FROM ${entity.table} WHERE ${entity.addressedBy.map((c) => `${c} = ?1`).join(" OR ")}`,
      clash: {
        key: entity.uniqueKey,
        sql: `SELECT id FROM ${entity.table} WHERE ${entity.uniqueKey} = ? AND is_system = 1`,
        // "a role named …", "a resource server with identifier …"
        phrase: `${entity.noun} ${entity.uniqueKey === "name" ? "named" : `with ${entity.uniqueKey}`}`,
      },
    },
  ]),
);

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export interface ProtectionCheck {
  /** Every method the request could be read as (its own, and any override it carries). */
  methods: ReadonlySet<string>;
  /** The path's readings after the management prefix (see management-path.ts). */
  readings: readonly string[][];
  /** Reads the body of a create or an update, for the unique-key check; called only when needed. */
  body: () => Promise<unknown>;
}

/**
 * Refuses writes to synced copies in a child tenant's file (`is_system = 1`): 403 with where to make
 * the change instead; and a tenant's own entity created or renamed with a synced one's unique key:
 * 409. Lookups that fail refuse the write (503): the guard fails closed.
 */
export class SyncedEntityGuard {
  constructor(private readonly store: Pick<TenantAccess, "use">) {}

  async check(tenant: string, req: ProtectionCheck): Promise<void> {
    if (![...req.methods].some((m) => WRITES.has(m))) return;
    for (const segments of req.readings) {
      const [collection, id, ...rest] = segments;
      const guarded = collection === undefined ? undefined : GUARDED.get(collection.toLowerCase());
      if (guarded === undefined) continue;
      if (id === undefined) {
        if (req.methods.has("POST")) await this.checkKey(tenant, guarded, req, "create");
        continue;
      }
      const subpaths: readonly string[] = guarded.entity.writableSubpaths;
      if (rest.length === 1 && subpaths.includes(rest[0]?.toLowerCase() ?? "")) continue;
      const synced = await this.lookup(tenant, (db) => db.get<{ id: string; name: string; is_system: number }>(guarded.lookup, [id]));
      if (synced && synced.is_system === 1) {
        throw new HttpError(403, `${guarded.entity.noun} "${synced.name}" (${synced.id}) is synced from the control plane and cannot be changed in tenant "${tenant}"; change it on the control plane`);
      }
      // The tenant's own entity (or one AuthHero will not find): it may change, but not onto a synced key.
      if (rest.length === 0 && (req.methods.has("PATCH") || req.methods.has("PUT"))) await this.checkKey(tenant, guarded, req, "rename");
    }
  }

  /** A create or an update whose body gives the entity a synced entity's unique key: 409. */
  private async checkKey(tenant: string, guarded: GuardedCollection, req: ProtectionCheck, change: "create" | "rename"): Promise<void> {
    const rule = guarded.clash;
    const body = await req.body();
    const value = typeof body === "object" && body !== null ? (body as Record<string, unknown>)[rule.key] : undefined;
    if (typeof value !== "string") return; // A create without it AuthHero refuses; an update without it keeps the key.
    const clash = await this.lookup(tenant, (db) => db.get<{ id: string }>(rule.sql, [value]));
    if (!clash) return;
    const refused = change === "create" ? "a tenant cannot create its own" : `a tenant's own ${guarded.entity.noun} cannot take it`;
    throw new HttpError(409, `a ${rule.phrase} "${value}" is synced from the control plane into tenant "${tenant}" (${clash.id}); ${refused}: choose another ${rule.key}`);
  }

  /** Only the lookup itself is inside: a refusal of the body (413) stays what it is, not a 503. */
  private async lookup<T>(tenant: string, read: (db: SqlDb) => Promise<T>): Promise<T> {
    try {
      return await this.store.use(tenant, read);
    } catch (err) {
      throw new HttpError(503, `cannot check tenant "${tenant}" for synced entities (${(err as Error).message}); the write is refused`);
    }
  }
}
