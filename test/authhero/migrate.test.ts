import { afterEach, beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import { migrateTenantFiles } from "../../src/authhero/index.ts";
import { openSqlite } from "../../src/storage/sqlite.ts";
import { cpWrites, openFixture, type SyncFixture } from "../sync/fixture.ts";

// Every tenant file follows the host's schema (issue 12; AuthHero's migrations are per file,
// unlocked, and fail when two processes run them at once: shared/reference/authhero-runtime.md §5).

let f: SyncFixture;
const CP = "control_plane";
const RUNNER = join(import.meta.dir, "migrate-runner.ts");
const TENANTS = Array.from({ length: 12 }, (_, i) => `t${i}`);

beforeEach(async () => {
  f = await openFixture();
  // As when AuthHero made the control-plane file: its migrations recorded (tenant files clone them).
  f.authhero.query("INSERT INTO kysely_migration (name, timestamp) VALUES ('2026-07-16T14:00:00_baseline', '2026-12-01T00:00:00.000Z')").run();
  for (const id of TENANTS) await f.lifecycle.create({ id, friendly_name: id });
});
afterEach(() => f.close());

const columns = (path: string) => {
  const db = openSqlite(path);
  try {
    return (db.query("SELECT name FROM pragma_table_info('roles')").all() as { name: string }[]).map((c) => c.name);
  } finally {
    db.close(false);
  }
};

async function runPasses(env: Record<string, string> = {}): Promise<{ failed: unknown[] }[]> {
  const procs = [0, 1].map(() => Bun.spawn([process.execPath, RUNNER, f.dataDir, CP], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } }));
  return Promise.all(
    procs.map(async (p) => {
      const [out, err] = [await new Response(p.stdout).text(), await new Response(p.stderr).text()];
      await p.exited;
      if (p.exitCode !== 0) throw new Error(err);
      return JSON.parse(out);
    }),
  );
}

test("two host processes migrating at the same moment: every file migrated once, nothing failed", async () => {
  const passes = await runPasses();
  expect(passes.map((p) => p.failed)).toEqual([[], []]);
  for (const id of [CP, ...TENANTS]) expect(columns(join(f.dataDir, "tenants", `${id}.sqlite`))).toContain("extra");
});

test("without the pass's lock the same two processes collide (what the lock is for)", async () => {
  const passes = await runPasses({ NO_LOCK: "1" });
  expect(passes.flatMap((p) => p.failed).join("\n")).toMatch(/duplicate column/);
});

test("sync and provisioning go on across the upgrade: new tenants get the new schema, copies keep flowing", async () => {
  await migrateTenantFiles({
    dataDir: f.dataDir,
    controlPlaneTenantId: CP,
    migrate: async (db) => {
      if (!(db.query("SELECT name FROM pragma_table_info('roles')").all() as { name: string }[]).some((c) => c.name === "extra")) db.exec("ALTER TABLE roles ADD COLUMN extra TEXT");
    },
  });
  cpWrites(f.authhero).role("rol_after", "after-upgrade");
  f.authhero.query("UPDATE roles SET extra = 'x' WHERE id = 'rol_after'").run();
  await f.lifecycle.create({ id: "fresh", friendly_name: "Fresh" });
  await f.relay.drain();
  expect(columns(join(f.dataDir, "tenants", "fresh.sqlite"))).toContain("extra");
  for (const id of ["t0", "fresh"]) {
    const db = f.tenantFile(id);
    expect(db.query("SELECT extra FROM roles WHERE id = 'rol_after'").get()).toEqual({ extra: "x" });
  }
});

test("a file that fails is reported and the pass goes on", async () => {
  const pass = await migrateTenantFiles({
    dataDir: f.dataDir,
    controlPlaneTenantId: CP,
    migrate: async (_db, tenantId) => {
      if (tenantId === "t3") throw new Error("no space left");
    },
  });
  expect(pass.failed).toEqual([{ tenantId: "t3", error: "no space left" }]);
  expect(pass.migrated).toHaveLength(TENANTS.length);
  expect(pass.migrated[0]).toBe(CP);
});

test("a data directory tenantgate created on its own is named as such, not handed to AuthHero's migrator", async () => {
  f.authhero.query("DELETE FROM kysely_migration").run();
  const called: string[] = [];
  const pass = await migrateTenantFiles({ dataDir: f.dataDir, controlPlaneTenantId: CP, migrate: async (_db, id) => void called.push(id) });
  expect(pass.failed).toEqual([{ tenantId: CP, error: expect.stringMatching(/tenantgate's own minimal schema.*start the AuthHero host first/) }]);
  expect(called).not.toContain(CP);
});
