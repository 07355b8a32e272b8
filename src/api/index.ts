// The gateway's own HTTP API (Elysia plugins), its metrics and CORS: what the composition (request-pipeline.ts, gateway-parts.ts) uses.
export { controlPlaneGate } from "./control-plane-gate.ts";
export { ManagementCors } from "./cors.ts";
export { docs } from "./docs.ts";
export { effectiveSettingsApi } from "./effective-settings.ts";
export { errorHandling } from "./errors.ts";
export { operationsApi } from "./health.ts";
export { GatewayMetrics } from "./metrics.ts";
export type { RouteClass } from "./metrics.ts";
export { RequestTally } from "./request-tally.ts";
export type { TallySnapshot } from "./request-tally.ts";
export { syncApi } from "./sync.ts";
export { tenantsApi, tenantsApiQueries } from "./tenants.ts";
