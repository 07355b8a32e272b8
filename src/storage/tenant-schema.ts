import { sql } from "drizzle-orm";
import { check, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

// tenantgate's own tables inside each tenant file (the control plane's are in schema.ts). A tenant
// file is a schema clone of the control plane without tenantgate's objects, so these are made in it
// on first use, from the SQL drizzle-kit generates from this file (drizzle.tenant.config.ts).

/** The relay's cursor: the last outbox seq whose changes the file holds, advanced with them. */
export const tenantSync = sqliteTable(
  "tenantgate_sync",
  {
    id: integer("id").primaryKey(),
    cursor: integer("cursor").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [check("tenantgate_sync_one_row", sql`${t.id} = 1`)],
);

/** A synced entity the tenant's own entity blocks (same unique key), until one of them changes. */
export const tenantSyncConflicts = sqliteTable(
  "tenantgate_sync_conflicts",
  {
    entity: text("entity").notNull(),
    entityId: text("entity_id").notNull(),
    keyValue: text("key_value").notNull(),
    tenantEntityId: text("tenant_entity_id").notNull(),
    detectedAt: text("detected_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.entity, t.entityId] })],
);

/**
 * Which deployment and which tenant the file belongs to (one row). The control plane holds its own:
 * its `deployment_id` is the deployment's identity, made with it. A tenant file and a backup of one
 * are marked when they are made, so a restore knows a backup made on another deployment, or of
 * another tenant (a backup from before marks existed has none).
 */
export const tenantOrigin = sqliteTable(
  "tenantgate_origin",
  {
    id: integer("id").primaryKey(),
    deploymentId: text("deployment_id").notNull(),
    tenantId: text("tenant_id").notNull(),
    markedAt: text("marked_at").notNull(),
  },
  (t) => [check("tenantgate_origin_one_row", sql`${t.id} = 1`)],
);
