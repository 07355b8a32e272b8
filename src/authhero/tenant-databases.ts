import type { DataAdapters } from "@authhero/adapter-interfaces";

/**
 * Where each tenant's adapters come from. The default is the gateway's tenant files; another
 * engine (a networked one, such as libSQL namespaces) can stand in by answering these three.
 */
export interface TenantDatabases {
  /**
   * The tenant's adapters, or undefined when there is no such tenant (never creates one). An engine
   * that cannot tell at once (a server) may answer adapters and let their calls fail: `isMissing`.
   */
  get(tenantId: unknown): DataAdapters | undefined;
  /** Every tenant id held now, the control plane's included. */
  ids(): string[] | Promise<string[]>;
  /** Whether a call's failure means the tenant's database is not there (answered as for an unknown tenant). */
  isMissing?(err: unknown): boolean;
  /**
   * Whether the tenant exists, for an engine whose `get` answers before it knows: where no call is
   * made to find out (a tenant's issuers), `get`'s answer alone would take any id for a tenant.
   */
  has?(tenantId: string): Promise<boolean>;
  close(): void;
}
