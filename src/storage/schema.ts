import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * The lifecycle journal: one row per provision, adoption or deprovision of a tenant. A process that
 * dies mid-way finds its unfinished operations here at the next start and finishes or undoes them.
 */
export const operations = sqliteTable(
  "tenantgate_operations",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    kind: text("kind", { enum: ["create", "delete", "adopt", "backup", "restore"] }).notNull(),
    state: text("state", { enum: ["running", "done", "rolled_back", "failed"] }).notNull(),
    /** JSON: what was asked (friendly name, settings, organization id, creator). */
    input: text("input").notNull().default("{}"),
    /** JSON array of `{ step, at, outcome }`, appended as each step completes. */
    steps: text("steps").notNull().default("[]"),
    error: text("error"),
    /** JSON `{ host, pid, start }` of the process running it, so recovery never takes over live work. */
    owner: text("owner"),
    /**
     * Epoch ms until which the owner is known alive: it renews this while it works. Past it, any
     * gateway, on any host, may finish or undo the operation (an owner on another host cannot be
     * asked whether its process lives).
     */
    leaseUntil: integer("lease_until"),
    startedAt: text("started_at").notNull(),
    finishedAt: text("finished_at"),
  },
  (t) => [
    index("tenantgate_operations_tenant").on(t.tenantId, t.startedAt),
    // At most one unfinished operation per tenant: two concurrent creates of one id cannot both run.
    uniqueIndex("tenantgate_operations_one_running").on(t.tenantId).where(sql`state = 'running'`),
  ],
);

export type OperationRow = typeof operations.$inferSelect;

/**
 * The transactional outbox: control-plane triggers append one row per change to a synced entity,
 * inside the writer's own transaction, whoever the writer is. `seq` is commit order (SQLite
 * serializes writers), so a tenant's cursor is one number.
 */
export const outbox = sqliteTable(
  "tenantgate_outbox",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    /** resource_server, role, connection or organization; role_permissions changes are the role's. */
    entity: text("entity").notNull(),
    entityId: text("entity_id").notNull(),
    op: text("op").notNull(),
    createdAt: text("created_at").notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`),
  },
  (t) => [index("tenantgate_outbox_created").on(t.createdAt)],
);

/**
 * The relay's view of each tenant, mirrored on the control plane so a start reads one table instead
 * of every tenant file. The tenant file's own cursor is the truth; this mirror may trail it.
 */
export const syncState = sqliteTable("tenantgate_sync_state", {
  tenantId: text("tenant_id").primaryKey(),
  cursor: integer("cursor").notNull().default(0),
  attempts: integer("attempts").notNull().default(0),
  lastError: text("last_error"),
  lastErrorAt: text("last_error_at"),
  nextAttemptAt: integer("next_attempt_at"),
  conflicts: integer("conflicts").notNull().default(0),
  /**
   * The tenant database's identity (the store's, see TenantStore.identity) when `cursor` was last
   * read from it or committed to it: a start that finds the same identity need not read it again.
   */
  identity: text("identity"),
  updatedAt: text("updated_at").notNull(),
});

/**
 * Work only one gateway of many may do at a time (the outbox relay), held by whoever renews it
 * before `expires_at` (epoch ms). Taken by a conditional write, so two gateways never both hold it.
 */
export const leases = sqliteTable("tenantgate_leases", {
  name: text("name").primaryKey(),
  /** Who holds it: host, pid and a per-process id. */
  holder: text("holder").notNull(),
  expiresAt: integer("expires_at").notNull(),
  /** When the current holder took it (epoch ms). */
  grantedAt: integer("granted_at").notNull(),
});
