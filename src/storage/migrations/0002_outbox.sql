CREATE TABLE `tenantgate_outbox` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`entity` text NOT NULL,
	`entity_id` text NOT NULL,
	`op` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tenantgate_outbox_created` ON `tenantgate_outbox` (`created_at`);--> statement-breakpoint
CREATE TABLE `tenantgate_sync_state` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`cursor` integer DEFAULT 0 NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`last_error_at` text,
	`next_attempt_at` integer,
	`conflicts` integer DEFAULT 0 NOT NULL,
	`updated_at` text NOT NULL
);
