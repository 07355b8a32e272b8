import type { Database } from "bun:sqlite";

/** The header set AuthHero 9.6.1's management API sends an allowed origin (routes/management-api). */
const ALLOWED_HEADERS: Record<string, string> = {
  "access-control-allow-credentials": "true",
  "access-control-allow-methods": "POST, PUT, GET, DELETE, PATCH, OPTIONS",
  "access-control-allow-headers": "Tenant-Id, Content-Type, Content-Range, Auth0-Client, Authorization, Range, Upgrade-Insecure-Requests",
  "access-control-expose-headers": "Content-Length, Content-Range",
  "access-control-max-age": "600",
};
/** AuthHero reads the newest 10 clients of the tenant (its list default): the same ones count here. */
const CLIENTS_READ = 10;

/**
 * CORS for the answers the gateway gives itself on `/api/v2/*` (its own APIs, its refusals), by
 * AuthHero's rule for its management API, so a browser sees the same whether AuthHero or the gateway
 * answered: an origin is allowed when it is in `allowedOrigins` (AuthHero's `init` option of that
 * name) or, exactly, in the `web_origins` of the target tenant's 10 newest clients.
 */
export class ManagementCors {
  constructor(
    private readonly allowedOrigins: readonly string[],
    /** The tenant's file, or undefined when it cannot be read now (then only allowedOrigins count). */
    private readonly fileOf: (tenantId: string) => Database | undefined,
  ) {}

  /** Adds the headers to `response` (always `Vary: Origin`; the rest for an allowed origin). */
  apply(response: Response, origin: string | null, tenantId: string | undefined): Response {
    response.headers.append("vary", "Origin");
    if (origin === null || !this.allows(origin, tenantId)) return response;
    response.headers.set("access-control-allow-origin", origin);
    for (const [name, value] of Object.entries(ALLOWED_HEADERS)) response.headers.set(name, value);
    return response;
  }

  private allows(origin: string, tenantId: string | undefined): boolean {
    if (this.allowedOrigins.includes(origin)) return true;
    if (tenantId === undefined) return false;
    return this.webOrigins(tenantId).includes(origin);
  }

  private webOrigins(tenantId: string): string[] {
    const db = this.fileOf(tenantId);
    if (!db) return [];
    let rows: { web_origins: string }[];
    try {
      rows = db.query("SELECT web_origins FROM clients WHERE tenant_id = ? ORDER BY created_at DESC LIMIT ?").all(tenantId, CLIENTS_READ) as { web_origins: string }[];
    } catch {
      // No clients table (a file on tenantgate's own minimal schema): no client allows anything.
      return [];
    }
    return rows.flatMap((r) => {
      try {
        const list: unknown = JSON.parse(r.web_origins);
        return Array.isArray(list) ? list.filter((o): o is string => typeof o === "string") : [];
      } catch {
        return [];
      }
    });
  }
}
