import type { RouteClass } from "./api/index.ts";

/**
 * Paths the gateway may answer itself; everything else goes straight to the proxy. Shared by the
 * gateway's HTTP server and the front door's thread, which must never forward one of these.
 */
export function ownedByGateway(path: string): boolean {
  return isOperations(path) || isDocs(path) || path.startsWith("/api/v2/tenants") || path.startsWith("/api/v2/sync");
}

/** The route class a request is counted under in the metrics. */
export function routeClass(path: string, status: number): RouteClass {
  if (path === "/healthz" || path === "/readyz") return "health";
  if (path === "/metrics") return "metrics";
  if (isDocs(path)) return "docs";
  if (status === 400 || status === 404) return "rejected";
  if (path.startsWith("/api/v2/tenants") && !path.startsWith("/api/v2/tenants/settings")) return "tenants-api";
  return "proxy";
}

const isOperations = (path: string) => path === "/healthz" || path === "/readyz" || path === "/metrics";
const isDocs = (path: string) => path === "/docs" || path.startsWith("/docs/");
