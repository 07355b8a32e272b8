import { sql } from "drizzle-orm";
import { index, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * The lifecycle journal: one row per provision, adoption or deprovision of a tenant. A process that
 * dies mid-way finds its unfinished operations here at the next start and finishes or undoes them.
 */
export const operations = sqliteTable(
  "tenantgate_operations",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    kind: text("kind", { enum: ["create", "delete", "adopt"] }).notNull(),
    state: text("state", { enum: ["running", "done", "rolled_back", "failed"] }).notNull(),
    /** JSON: what was asked (friendly name, settings, organization id, creator). */
    input: text("input").notNull().default("{}"),
    /** JSON array of `{ step, at, outcome }`, appended as each step completes. */
    steps: text("steps").notNull().default("[]"),
    error: text("error"),
    /** JSON `{ host, pid, start }` of the process running it, so recovery never takes over live work. */
    owner: text("owner"),
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
