/**
 * Every entity tenantgate copies from the control plane into child tenants, with everything each
 * part of the gateway needs to know about it: the relay (its table and unique key), the capture
 * triggers (which tables feed it), the guard (its management API collection, how a path names a
 * copy, what stays writable) and the config (its switch). Adding an entity here is the whole of
 * declaring it; the order is the order of `--help` and of a reconcile.
 */
export const SYNCED_ENTITIES = [
  {
    kind: "resource_server",
    table: "resource_servers",
    uniqueKey: "identifier",
    keyIsUnique: true,
    collection: "resource-servers",
    noun: "resource server",
    // The management API addresses a resource server by id or, Auth0-style, by its identifier.
    addressedBy: ["id", "identifier"],
    writableSubpaths: [],
    // An HS256 API's key. AuthHero 9.6.1 reads it nowhere; a tenant's admin must not read the control plane's.
    secretColumns: ["signing_secret"],
    capturedFrom: [{ table: "resource_servers", id: "id" }],
    syncSwitch: { key: "syncResourceServers", help: "copy control-plane resource servers into tenants" },
  },
  {
    kind: "role",
    table: "roles",
    uniqueKey: "name",
    keyIsUnique: true,
    collection: "roles",
    noun: "role",
    addressedBy: ["id"],
    // Assigning users to a synced role is the tenant's business; the role itself is not.
    writableSubpaths: ["users"],
    secretColumns: [],
    capturedFrom: [
      { table: "roles", id: "id" },
      // A role's permissions travel as the role's whole set: a change to one is a change to the role.
      { table: "role_permissions", id: "role_id" },
    ],
    syncSwitch: { key: "syncRoles", help: "copy control-plane roles and their permissions into tenants" },
  },
  {
    kind: "connection",
    table: "connections",
    // AuthHero's table lets a tenant hold two connections of one name, but a login names its
    // connection (`connection=`, a database signup): a tenant's own one must not shadow a synced one.
    uniqueKey: "name",
    keyIsUnique: false,
    collection: "connections",
    noun: "connection",
    addressedBy: ["id"],
    // Enabling a connection for an app (`PATCH /connections/{id}/clients`, Auth0's way) changes the
    // tenant's own clients, not the connection.
    writableSubpaths: ["clients"],
    // Its secrets are options inside a column (`--sync-secret-keys`), stripped from the copy's options.
    secretColumns: [],
    capturedFrom: [{ table: "connections", id: "id" }],
    syncSwitch: { key: "syncConnections", help: "copy control-plane connections into tenants" },
  },
] as const satisfies readonly SyncedEntityShape[];

interface SyncedEntityShape {
  /** The outbox's name for it, and the relay's. */
  kind: string;
  /** AuthHero's table of it, in the control plane and in every tenant. */
  table: string;
  /** The column a tenant's own entity must not share with a synced one (the key a tenant or a login finds it by). */
  uniqueKey: string;
  /**
   * AuthHero's schema makes `uniqueKey` unique, so the control plane never holds two entities of one
   * key: a copy that holds the key under another id is stale (and would make the insert fail).
   */
  keyIsUnique: boolean;
  /** Its management API collection: `/api/v2/<collection>/<id>`. */
  collection: string;
  /** What messages call one. */
  noun: string;
  /** The columns the id in a management path may be (a tenant's copy is found by any of them). */
  addressedBy: readonly string[];
  /** Sub-paths of a synced copy (`<collection>/<id>/<sub-path>`) a tenant may still write. */
  writableSubpaths: readonly string[];
  /** Columns a copy leaves NULL: secrets of the control plane's that a tenant file must not hold. */
  secretColumns: readonly string[];
  /** The control-plane tables whose changes are changes to it, and the column naming it there. */
  capturedFrom: readonly { table: string; id: string }[];
  /** Its config option (`--sync-…`, on by default): off, it is not synced at all. */
  syncSwitch: { key: string; help: string };
}

export type SyncedEntity = (typeof SYNCED_ENTITIES)[number];
export type EntityKind = SyncedEntity["kind"];
/** The config keys of the per-kind switches. */
export type SyncSwitch = SyncedEntity["syncSwitch"]["key"];

const BY_KIND = Object.fromEntries(SYNCED_ENTITIES.map((e) => [e.kind, e])) as Record<EntityKind, SyncedEntity>;

export const entityOf = (kind: EntityKind): SyncedEntity => BY_KIND[kind];

export const isEntityKind = (s: string): s is EntityKind => Object.hasOwn(BY_KIND, s);
