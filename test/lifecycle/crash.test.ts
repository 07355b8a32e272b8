// Crash safety of the tenant lifecycle, with real processes: a CLI command dies by SIGKILL at each
// crash point (TENANTGATE_CRASH_AT), then `serve` starts over the same data directory, recovers, and
// the tenant is either wholly there or wholly gone, and its operation is never left `running`.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadDevKey, signDevToken } from "../../src/auth/index.ts";
import { cli, controlPlanePath, readDb, removeDir, serve, tempDir, type RunResult, type Served } from "../cli/spawn.ts";

const ADMIN = ["create:tenants", "read:tenants", "update:tenants", "delete:tenants"];

/**
 * Each test owns a temp data dir and the serve processes it starts, and cleans them up itself, so
 * the tests can run concurrently (each one is mostly waiting on process start-up).
 */
function scenario(fn: (dir: string, startServe: () => Promise<Served>) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = tempDir("tenantgate-crash-");
    const servers: Served[] = [];
    try {
      await fn(dir, async () => {
        const s = await serve(dir);
        servers.push(s);
        return s;
      });
    } finally {
      for (const s of servers) await s.stop();
      removeDir(dir);
    }
  };
}

interface OpRow {
  id: string;
  tenant_id: string;
  kind: string;
  state: string;
  steps: string;
  error: string | null;
}

function operations(dataDir: string, tenant: string): OpRow[] {
  return readDb(controlPlanePath(dataDir), (db) =>
    db.query("SELECT id, tenant_id, kind, state, steps, error FROM tenantgate_operations WHERE tenant_id = ? ORDER BY started_at").all(tenant),
  ) as OpRow[];
}

const stepsOf = (op: OpRow) => (JSON.parse(op.steps) as { step: string }[]).map((s) => s.step);

function cpFacts(dataDir: string, tenant: string) {
  return readDb(controlPlanePath(dataDir), (db) => ({
    row: db.query("SELECT id FROM tenants WHERE id = ?").get(tenant) as { id: string } | null,
    org: db.query("SELECT id, name, tenant_id FROM organizations WHERE name = ?").get(tenant) as { id: string; name: string; tenant_id: string } | null,
    running: (db.query("SELECT count(*) AS n FROM tenantgate_operations WHERE state = 'running'").get() as { n: number }).n,
  }));
}

const tenantsDir = (dataDir: string) => join(dataDir, "tenants");
const tmpLeftovers = (dataDir: string) => readdirSync(join(tenantsDir(dataDir), ".tmp"));
const trashOf = (dataDir: string, tenant: string) => readdirSync(join(tenantsDir(dataDir), ".trash")).filter((n) => n.startsWith(`${tenant}.`));

function expectKilled(r: RunResult): void {
  expect({ signal: r.signal, code: r.code }).toEqual({ signal: "SIGKILL", code: null });
}

async function adminToken(dataDir: string): Promise<string> {
  return signDevToken(await loadDevKey(dataDir), { tenant_id: "control_plane", permissions: ADMIN }, { audience: "urn:authhero:management" });
}

async function api(s: Served, dataDir: string, path: string): Promise<Response> {
  return fetch(`${s.url}${path}`, { headers: { host: "localhost", authorization: `Bearer ${await adminToken(dataDir)}` } });
}

function expectNoTenant(dataDir: string, tenant: string): void {
  const facts = cpFacts(dataDir, tenant);
  expect(facts.row).toBeNull();
  expect(facts.org).toBeNull();
  expect(facts.running).toBe(0);
  for (const suffix of ["", "-wal", "-shm"]) expect(existsSync(join(tenantsDir(dataDir), `${tenant}.sqlite${suffix}`))).toBe(false);
  expect(tmpLeftovers(dataDir)).toEqual([]);
}

function expectCompleteTenant(dataDir: string, tenant: string): void {
  const facts = cpFacts(dataDir, tenant);
  expect(facts.row?.id).toBe(tenant);
  expect(facts.org?.name).toBe(tenant);
  expect(facts.org?.tenant_id).toBe("control_plane");
  expect(facts.org?.id).toMatch(/^org_/);
  expect(facts.running).toBe(0);
  const file = join(tenantsDir(dataDir), `${tenant}.sqlite`);
  expect(existsSync(file)).toBe(true);
  readDb(file, (db) => {
    expect((db.query("SELECT id FROM tenants").all() as { id: string }[]).map((r) => r.id)).toEqual([tenant]);
    expect(db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
  });
  expect(tmpLeftovers(dataDir)).toEqual([]);
}

async function expectApiState(s: Served, dataDir: string, tenant: string, want: { exists: boolean; opState: string; kind: string }) {
  const res = await api(s, dataDir, `/api/v2/tenants/${tenant}`);
  expect(res.status).toBe(want.exists ? 200 : 404);
  if (want.exists) expect(((await res.json()) as { status: string }).status).toBe("ready");
  const ops = await api(s, dataDir, `/api/v2/tenants/${tenant}/operations`);
  expect(ops.status).toBe(200);
  const history = (await ops.json()) as { kind: string; state: string }[];
  expect(history.length).toBeGreaterThan(0);
  expect(history.map((o) => o.state)).not.toContain("running");
  expect(history.find((o) => o.kind === want.kind)?.state).toBe(want.opState);
}

// Steps the journal must show when the process died at each point: proves the crash hit where it says.
const CREATE_POINTS = [
  { at: "create:journaled", steps: [], complete: false },
  { at: "create:file-built", steps: ["file-built"], complete: false },
  { at: "create:registered", steps: ["file-built", "registered"], complete: true },
  { at: "create:renamed", steps: ["file-built", "registered", "renamed"], complete: true },
] as const;

describe.concurrent("create interrupted by SIGKILL, recovered by the next serve", () => {
  for (const point of CREATE_POINTS) {
    test(point.at, scenario(async (dir, startServe) => {
      const crashed = await cli(dir, ["tenants", "create", "acme", "--friendly-name", "Acme"], { TENANTGATE_CRASH_AT: point.at });
      expectKilled(crashed);
      const [op] = operations(dir, "acme");
      expect(op?.state).toBe("running");
      expect(op && stepsOf(op)).toEqual([...point.steps]);

      const s = await startServe();
      const [after] = operations(dir, "acme");
      expect(after?.id).toBe(op?.id as string);
      if (point.complete) {
        expect(after?.state).toBe("done");
        expectCompleteTenant(dir, "acme");
        await expectApiState(s, dir, "acme", { exists: true, opState: "done", kind: "create" });
      } else {
        expect(after?.state).toBe("rolled_back");
        expectNoTenant(dir, "acme");
        await expectApiState(s, dir, "acme", { exists: false, opState: "rolled_back", kind: "create" });
      }
      await s.stop();

      // The data directory is healthy either way, and the id is usable again after a rollback.
      const again = await cli(dir, ["tenants", "create", "acme"]);
      if (point.complete) {
        expect(again.code).not.toBe(0);
        expect(again.stderr).toContain("already exists");
      } else {
        expect(again.stderr).toBe("");
        expect(again.code).toBe(0);
        expectCompleteTenant(dir, "acme");
      }
      const doctor = await cli(dir, ["doctor"]);
      expect(doctor.stdout).toContain("no problems found");
      expect(doctor.code).toBe(0);
    }), 30_000);
  }
});

const DELETE_POINTS = [
  { at: "delete:journaled", steps: [], purge: false },
  { at: "delete:unregistered", steps: ["unregistered"], purge: false },
  { at: "delete:trashed", steps: ["unregistered", "trashed"], purge: false },
  { at: "delete:unregistered", steps: ["unregistered"], purge: true },
  { at: "delete:trashed", steps: ["unregistered", "trashed"], purge: true },
] as const;

describe.concurrent("delete interrupted by SIGKILL, finished by the next serve", () => {
  for (const point of DELETE_POINTS) {
    test(`${point.at}${point.purge ? " (--purge)" : ""}`, scenario(async (dir, startServe) => {
      for (const id of ["acme", "beta"]) expect((await cli(dir, ["tenants", "create", id])).code).toBe(0);
      const crashed = await cli(dir, ["tenants", "delete", "acme", ...(point.purge ? ["--purge"] : [])], { TENANTGATE_CRASH_AT: point.at });
      expectKilled(crashed);
      const op = operations(dir, "acme").find((o) => o.kind === "delete");
      expect(op?.state).toBe("running");
      expect(op && stepsOf(op)).toEqual([...point.steps]);

      const s = await startServe();
      const after = operations(dir, "acme").find((o) => o.kind === "delete");
      expect(after?.state).toBe("done");
      expect(after && stepsOf(after)).toEqual(point.purge ? ["unregistered", "trashed", "purged"] : ["unregistered", "trashed"]);
      expectNoTenant(dir, "acme");
      const trashed = trashOf(dir, "acme");
      if (point.purge) expect(trashed).toEqual([]);
      else {
        expect(trashed).toHaveLength(1);
        expect(trashed[0]).toMatch(/^acme\.[0-9TZ]+\.sqlite$/);
        // The trashed file is the whole tenant: its own row survived the move.
        readDb(join(tenantsDir(dir), ".trash", trashed[0] as string), (db) => {
          expect(db.query("SELECT id FROM tenants").all()).toEqual([{ id: "acme" }]);
        });
      }
      await expectApiState(s, dir, "acme", { exists: false, opState: "done", kind: "delete" });
      // The other tenant is untouched.
      expectCompleteTenant(dir, "beta");
      // Nothing resurrects the tenant afterwards (the watcher must not adopt a half-deleted file).
      await Bun.sleep(300);
      expect(cpFacts(dir, "acme").row).toBeNull();
    }), 30_000);
  }
});

test("an interrupted create blocks the id until serve recovers it, and doctor reports it", scenario(async (dir, startServe) => {
  expectKilled(await cli(dir, ["tenants", "create", "acme"], { TENANTGATE_CRASH_AT: "create:file-built" }));
  expect(tmpLeftovers(dir).some((n) => n.startsWith("acme."))).toBe(true);
  const blocked = await cli(dir, ["tenants", "create", "acme"]);
  expect(blocked.code).not.toBe(0);
  expect(blocked.stderr).toContain("still running");
  const doctor = await cli(dir, ["doctor"]);
  expect(doctor.code).not.toBe(0);
  expect(doctor.stdout).toMatch(/create acme\) is unfinished/);

  // A stray from an operation that is no longer running is swept at start too.
  writeFileSync(join(tenantsDir(dir), ".tmp", "ghost.op_AAAAAAAAAAAAAAAAA.sqlite"), "stale");

  const s = await startServe();
  expectNoTenant(dir, "acme");
  await s.stop();
  expect((await cli(dir, ["tenants", "create", "acme"])).code).toBe(0);
  expectCompleteTenant(dir, "acme");
  expect(operations(dir, "acme").map((o) => o.state)).toEqual(["rolled_back", "done"]);
}), 30_000);

test("a registered create whose built file vanished before the restart is undone, not left half made", scenario(async (dir, startServe) => {
  expectKilled(await cli(dir, ["tenants", "create", "acme"], { TENANTGATE_CRASH_AT: "create:registered" }));
  expect(cpFacts(dir, "acme").org).not.toBeNull();
  // Someone wipes the scratch folder while the gateway is down.
  for (const name of tmpLeftovers(dir)) rmSync(join(tenantsDir(dir), ".tmp", name));

  const s = await startServe();
  expectNoTenant(dir, "acme");
  const [op] = operations(dir, "acme");
  expect(op?.state).toBe("rolled_back");
  expect(op?.error).toContain("built file");
  await expectApiState(s, dir, "acme", { exists: false, opState: "rolled_back", kind: "create" });
  await s.stop();
  expect((await cli(dir, ["tenants", "create", "acme"])).code).toBe(0);
  expectCompleteTenant(dir, "acme");
}), 30_000);

// A restore is journaled like the rest: killed at each point, the next serve finishes it (the staged
// file was complete) or undoes it, and the tenant's file is the backup's or the one before, never gone.
const RESTORE_POINTS = [
  { at: "restore:journaled", steps: [], restored: false },
  { at: "restore:staged", steps: ["staged"], restored: true },
  { at: "restore:trashed", steps: ["staged", "trashed"], restored: true },
  { at: "restore:renamed", steps: ["staged", "trashed", "renamed"], restored: true },
] as const;

describe.concurrent("restore interrupted by SIGKILL, finished or undone by the next serve", () => {
  for (const point of RESTORE_POINTS) {
    test(point.at, scenario(async (dir, startServe) => {
      expect((await cli(dir, ["tenants", "create", "acme", "--friendly-name", "Acme"])).code).toBe(0);
      const backup = join(dir, "acme-backup.sqlite");
      expect((await cli(dir, ["backup", "acme", backup])).code).toBe(0);
      // The live file moves on after the backup: a marker row only it has.
      const live = new Database(join(tenantsDir(dir), "acme.sqlite"));
      live.exec("CREATE TABLE after_backup (x); INSERT INTO after_backup VALUES (1)");
      live.close(false);

      expectKilled(await cli(dir, ["restore", "acme", backup], { TENANTGATE_CRASH_AT: point.at }));
      const op = operations(dir, "acme").find((o) => o.kind === "restore");
      expect(op?.state).toBe("running");
      expect(op && stepsOf(op)).toEqual([...point.steps]);

      const s = await startServe();
      const after = operations(dir, "acme").find((o) => o.kind === "restore");
      expect(after?.state).toBe(point.restored ? "done" : "rolled_back");
      expectCompleteTenant(dir, "acme");
      const marker = readDb(join(tenantsDir(dir), "acme.sqlite"), (db) => db.query("SELECT name FROM sqlite_master WHERE name = 'after_backup'").get());
      expect(marker === null).toBe(point.restored);
      // What was replaced is in the trash, whole; an undone restore trashed nothing.
      const trashed = trashOf(dir, "acme").filter((n) => n.endsWith(".sqlite"));
      expect(trashed).toHaveLength(point.restored ? 1 : 0);
      if (point.restored) readDb(join(tenantsDir(dir), ".trash", trashed[0] as string), (db) => expect(db.query("SELECT x FROM after_backup").get()).toEqual({ x: 1 }));
      await expectApiState(s, dir, "acme", { exists: true, opState: point.restored ? "done" : "rolled_back", kind: "restore" });
      await s.stop();
      expect((await cli(dir, ["doctor"])).code).toBe(0);
    }), 30_000);
  }
});

test("backups and restores are in the tenant's operation history", scenario(async (dir) => {
  expect((await cli(dir, ["tenants", "create", "acme"])).code).toBe(0);
  const backup = join(dir, "b.sqlite");
  expect((await cli(dir, ["backup", "acme", backup])).code).toBe(0);
  expect((await cli(dir, ["restore", "acme", backup])).code).toBe(0);
  expect(operations(dir, "acme").map((o) => [o.kind, o.state, stepsOf(o).join(",")])).toEqual([
    ["create", "done", "file-built,registered,renamed"],
    ["backup", "done", "snapshot,checked"],
    ["restore", "done", "staged,trashed,renamed"],
  ]);
}), 30_000);

test("a restore another process is running keeps its staged file through a serve's recovery beside it", scenario(async (dir, startServe) => {
  expect((await cli(dir, ["tenants", "create", "acme"])).code).toBe(0);
  const backup = join(dir, "acme-backup.sqlite");
  expect((await cli(dir, ["backup", "acme", backup])).code).toBe(0);
  // The restore holds still once its file is staged; meanwhile a gateway starts and recovers.
  const restoring = cli(dir, ["restore", "acme", backup], { TENANTGATE_PAUSE_AT: "restore:staged:3000" });
  for (const until = performance.now() + 10_000; !operations(dir, "acme").some((o) => o.kind === "restore" && stepsOf(o).includes("staged")); ) {
    if (performance.now() > until) throw new Error("the restore never staged its file");
    await Bun.sleep(20);
  }
  const s = await startServe();
  const restored = await restoring;
  expect(restored.stderr).toBe("");
  expect(restored.code).toBe(0);
  expect(operations(dir, "acme").find((o) => o.kind === "restore")?.state).toBe("done");
  await s.stop();
  expectCompleteTenant(dir, "acme");
}), 30_000);
