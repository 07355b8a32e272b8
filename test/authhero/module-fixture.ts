import { afterEach, beforeEach } from "bun:test";
import { createTenantFileAdapters, type AuthHeroAdapters, type TenantFileAdapters } from "../../src/authhero/index.ts";
import { openFixture, type SyncFixture } from "../sync/fixture.ts";
import { sqliteAdapters } from "./sqlite-adapters.ts";

export const CP = "control_plane";

/**
 * For each test: a data directory with tenants acme and beta provisioned by the gateway's own
 * lifecycle, and the module over it with the tests' SQL adapter: `a` what logins read, `m` what
 * the management API reads. Read through the getters.
 */
export function useModuleFixture(): { readonly f: SyncFixture; readonly a: TenantFileAdapters; readonly m: TenantFileAdapters } {
  let f: SyncFixture | undefined;
  let pair: AuthHeroAdapters | undefined;
  beforeEach(() => {
    f = openFixture();
    f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    f.lifecycle.create({ id: "beta", friendly_name: "Beta" });
    pair = createTenantFileAdapters({ dataDir: f.dataDir, controlPlaneTenantId: CP, open: (db) => sqliteAdapters(db) });
  });
  afterEach(() => {
    pair?.close();
    f?.close();
  });
  return {
    get f() {
      return f as SyncFixture;
    },
    get a() {
      return (pair as AuthHeroAdapters).dataAdapter;
    },
    get m() {
      return (pair as AuthHeroAdapters).managementDataAdapter;
    },
  };
}
