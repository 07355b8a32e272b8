CREATE TABLE `tenantgate_sync` (
	`id` integer PRIMARY KEY NOT NULL,
	`cursor` integer NOT NULL,
	`updated_at` text NOT NULL,
	CONSTRAINT "tenantgate_sync_one_row" CHECK("tenantgate_sync"."id" = 1)
);
--> statement-breakpoint
CREATE TABLE `tenantgate_sync_conflicts` (
	`entity` text NOT NULL,
	`entity_id` text NOT NULL,
	`key_value` text NOT NULL,
	`tenant_entity_id` text NOT NULL,
	`detected_at` text NOT NULL,
	PRIMARY KEY(`entity`, `entity_id`)
);
