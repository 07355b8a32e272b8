CREATE TABLE `tenantgate_operations` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`kind` text NOT NULL,
	`state` text NOT NULL,
	`input` text DEFAULT '{}' NOT NULL,
	`steps` text DEFAULT '[]' NOT NULL,
	`error` text,
	`started_at` text NOT NULL,
	`finished_at` text
);
--> statement-breakpoint
CREATE INDEX `tenantgate_operations_tenant` ON `tenantgate_operations` (`tenant_id`,`started_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `tenantgate_operations_one_running` ON `tenantgate_operations` (`tenant_id`) WHERE state = 'running';