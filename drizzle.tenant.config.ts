import { defineConfig } from "drizzle-kit";

// tenantgate's tables inside each tenant file (applied on first use by sync/apply.ts).
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/storage/tenant-schema.ts",
  out: "./src/storage/tenant-migrations",
});
