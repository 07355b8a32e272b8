import { afterEach, beforeEach } from "bun:test";
import { createTenantFileAdapters, type TenantFileAdapters } from "../../src/authhero/index.ts";
import { openFixture, type SyncFixture } from "../sync/fixture.ts";
import { sqliteAdapters } from "./sqlite-adapters.ts";

export const CP = "control_plane";

/**
 * For each test: a data directory with tenants acme and beta provisioned by the gateway's own
 * lifecycle, and the module over it with the tests' SQL adapter. Read through the getters.
 */
export function useModuleFixture(): { readonly f: SyncFixture; readonly a: TenantFileAdapters } {
  let f: SyncFixture | undefined;
  let a: TenantFileAdapters | undefined;
  beforeEach(() => {
    f = openFixture();
    f.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    f.lifecycle.create({ id: "beta", friendly_name: "Beta" });
    a = createTenantFileAdapters({ dataDir: f.dataDir, controlPlaneTenantId: CP, open: (db) => sqliteAdapters(db) });
  });
  afterEach(() => {
    a?.close();
    f?.close();
  });
  return {
    get f() {
      return f as SyncFixture;
    },
    get a() {
      return a as TenantFileAdapters;
    },
  };
}
