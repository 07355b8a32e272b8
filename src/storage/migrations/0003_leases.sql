CREATE TABLE `tenantgate_leases` (
	`name` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`expires_at` integer NOT NULL,
	`granted_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `tenantgate_operations` ADD `lease_until` integer;