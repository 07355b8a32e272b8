import type { SqlDb } from "./sql.ts";

/**
 * Where tenants' databases live: local SQLite files (HandlePool) or a libSQL server's namespaces.
 * Every rule about where a tenant's data is sits behind this seam; the rest of the gateway asks it
 * for a tenant's database and never builds a path or a namespace name itself.
 */
export interface TenantStore {
  readonly engine: SqlDb["engine"];
  /**
   * Runs `fn` on the tenant's database, held open until `fn` settles. A tenant the store does not
   * hold, or cannot open, throws TenantFileError ("missing" or "unreadable").
   */
  use<T>(id: string, fn: (db: SqlDb) => Promise<T>): Promise<T>;
}
