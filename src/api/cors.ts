import { LRUCache } from "lru-cache";
import type { TenantAccess } from "../storage/files.ts";

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
/** How long a tenant's clients' origins, once read, are believed; and how many tenants' are kept. */
const ORIGINS_FRESH_MS = 5_000;
const TENANTS_KEPT = 1_000;

/**
 * CORS for the answers the gateway gives itself on `/api/v2/*` (its own APIs, its refusals), by
 * AuthHero's rule for its management API, so a browser sees the same whether AuthHero or the gateway
 * answered: an origin is allowed when it is in `allowedOrigins` (AuthHero's `init` option of that
 * name) or, exactly, in the `web_origins` of the target tenant's 10 newest clients.
 */
export class ManagementCors {
  /**
   * The tenants' clients' origins, read at most once per tenant every ORIGINS_FRESH_MS. Any request
   * to the gateway's own /api/v2 answers with an Origin header asks (refusals included, which need no
   * token), and a tenant's database may be a libSQL server's namespace: without this, every such
   * request, a flood of unauthenticated ones too, would be a round trip to that server. Concurrent
   * asks for one tenant share one read (lru-cache's fetch). A client's new web origin counts within
   * seconds, far below the 600 s browsers keep a preflight's answer. A read that fails is not kept.
   */
  private readonly origins: LRUCache<string, readonly string[]>;

  constructor(
    private readonly allowedOrigins: readonly string[],
    /** Runs a read on the tenant's database (the control plane's included); throws when it cannot be read now. */
    private readonly use: TenantAccess["use"],
    freshMs = ORIGINS_FRESH_MS,
  ) {
    this.origins = new LRUCache<string, readonly string[]>({ max: TENANTS_KEPT, ttl: freshMs, fetchMethod: (id) => this.webOrigins(id) });
  }

  /** Adds the headers to `response` (always `Vary: Origin`; the rest for an allowed origin). */
  async apply(response: Response, origin: string | null, tenantId: string | undefined): Promise<Response> {
    response.headers.append("vary", "Origin");
    if (origin === null || !(await this.allows(origin, tenantId))) return response;
    response.headers.set("access-control-allow-origin", origin);
    for (const [name, value] of Object.entries(ALLOWED_HEADERS)) response.headers.set(name, value);
    return response;
  }

  private async allows(origin: string, tenantId: string | undefined): Promise<boolean> {
    if (this.allowedOrigins.includes(origin)) return true;
    if (tenantId === undefined) return false;
    return ((await this.origins.fetch(tenantId)) ?? []).includes(origin);
  }

  /**
   * The web origins of the tenant's newest clients; undefined (then only allowedOrigins count, and
   * nothing is kept) when the tenant cannot be read now or has no clients table (a file on
   * tenantgate's own minimal schema).
   */
  private async webOrigins(tenantId: string): Promise<string[] | undefined> {
    let rows: { web_origins: string }[];
    try {
      rows = await this.use(tenantId, (db) => db.all<{ web_origins: string }>("SELECT web_origins FROM clients WHERE tenant_id = ? ORDER BY created_at DESC LIMIT ?", [tenantId, CLIENTS_READ]));
    } catch {
      return undefined;
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
