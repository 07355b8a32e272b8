import { HttpError } from "../http-error.ts";

const LABEL = "([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)";

/**
 * The issuers whose tokens the gateway accepts: the control plane's (a list), and, when AuthHero
 * issues each tenant's tokens under the tenant's own public URL, a pattern such as
 * `https://{tenant}.auth.example.com/`. A token from a tenant's issuer speaks for that tenant only.
 */
export class TrustedIssuers {
  private readonly pattern?: RegExp;
  private readonly scheme?: string;

  constructor(
    private readonly fixed: readonly string[],
    tenantPattern = "",
    /** The tenant a custom domain belongs to: a tenant's issuer may also be its custom domain's URL. */
    private readonly customDomainTenant?: (host: string) => string | undefined,
  ) {
    if (tenantPattern === "") return;
    const parts = tenantPattern.split("{tenant}");
    if (parts.length !== 2) throw new TypeError(`a tenant issuer pattern names {tenant} exactly once, got ${JSON.stringify(tenantPattern)}`);
    if (!URL.canParse(tenantPattern.replace("{tenant}", "acme"))) throw new TypeError(`a tenant issuer pattern must form a URL, got ${JSON.stringify(tenantPattern)}`);
    const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    this.pattern = new RegExp(`^${escape(parts[0] as string)}${LABEL}${escape(parts[1] as string)}$`);
    this.scheme = new URL(tenantPattern.replace("{tenant}", "acme")).protocol;
  }

  /** Whether any tenant's own issuer is accepted (then jose cannot check `iss` against a list). */
  get hasTenantPattern(): boolean {
    return this.pattern !== undefined;
  }

  get list(): readonly string[] {
    return this.fixed;
  }

  /** null for a control-plane issuer, the tenant for a tenant's issuer, undefined for anyone else. */
  tenantOf(iss: unknown): string | null | undefined {
    if (typeof iss !== "string") return undefined;
    if (this.fixed.includes(iss)) return null;
    const byPattern = this.pattern?.exec(iss)?.[1];
    if (byPattern !== undefined || !this.customDomainTenant || !this.scheme) return byPattern;
    // `<scheme>://<custom domain>/`, the scheme the tenants' own issuers use, nothing after the host.
    const url = URL.parse(iss);
    if (!url || url.protocol !== this.scheme || url.href !== iss || url.pathname !== "/" || url.search !== "" || url.username !== "") return undefined;
    return this.customDomainTenant(url.hostname);
  }

  /** Refuses a token whose issuer is not trusted (401). */
  check(iss: unknown): void {
    if (this.tenantOf(iss) === undefined) throw new HttpError(401, `token issuer ${JSON.stringify(iss)} is not trusted`);
  }

  /** Refuses a tenant-issued token that speaks for another tenant than the one that issued it (401). */
  bind(iss: unknown, tenant: string): void {
    const issuedBy = this.tenantOf(iss);
    if (typeof issuedBy === "string" && issuedBy !== tenant) {
      throw new HttpError(401, `token issued by tenant "${issuedBy}" (${String(iss)}) cannot speak for "${tenant}"`);
    }
  }
}
