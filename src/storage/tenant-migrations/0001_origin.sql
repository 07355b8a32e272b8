CREATE TABLE `tenantgate_origin` (
	`id` integer PRIMARY KEY NOT NULL,
	`deployment_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`marked_at` text NOT NULL,
	CONSTRAINT "tenantgate_origin_one_row" CHECK("tenantgate_origin"."id" = 1)
);
