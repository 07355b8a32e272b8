import { afterEach, beforeEach } from "bun:test";
import { createTenantFileAdapters, type TenantFileAdapters, type TenantFileDataAdapters } from "../../src/authhero/index.ts";
import { openFixture, type SyncFixture } from "../sync/fixture.ts";
import { sqliteAdapters } from "./sqlite-adapters.ts";

export const CP = "control_plane";

/**
 * For each test: a data directory with tenants acme and beta provisioned by the gateway's own
 * lifecycle, and the module over it with the tests' SQL adapter: `a` is what AuthHero's logins get
 * (`dataAdapter`), `m` what its management API gets (`managementDataAdapter`), `both` the whole
 * result. Read through the getters.
 */
export function useModuleFixture(): { readonly f: SyncFixture; readonly a: TenantFileDataAdapters; readonly m: TenantFileDataAdapters; readonly both: TenantFileAdapters } {
  let f: SyncFixture | undefined;
  let both: TenantFileAdapters | undefined;
  beforeEach(async () => {
    f = await openFixture();
    await f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    await f.lifecycle.create({ id: "beta", friendly_name: "Beta" });
    both = createTenantFileAdapters({ dataDir: f.dataDir, controlPlaneTenantId: CP, open: (db) => sqliteAdapters(db) });
  });
  afterEach(() => {
    both?.close();
    f?.close();
  });
  return {
    get f() {
      return f as SyncFixture;
    },
    get a() {
      return (both as TenantFileAdapters).dataAdapter;
    },
    get m() {
      return (both as TenantFileAdapters).managementDataAdapter;
    },
    get both() {
      return both as TenantFileAdapters;
    },
  };
}
