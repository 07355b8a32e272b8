// The outbox relay in a real `serve` process (and in-process where a test must control the timing):
// writes from another process, a tenant file locked by another process, capture triggers dropped by a
// table rebuild, compaction, the sync API and the metrics.
import { Database } from "bun:sqlite";
import type { Subprocess } from "bun";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { loadDevKey, signDevToken } from "../../src/auth/index.ts";
import { loadConfig } from "../../src/config/index.ts";
import { openRelay, TRIGGER_COUNT } from "../../src/sync/index.ts";
import { closeTenancy, openTenancy } from "../../src/tenancy/index.ts";
import { BUN, cli, controlPlanePath, removeDir, ROOT, serve, tempDir, type Served } from "../cli/spawn.ts";
import { startGateway } from "../support/gateway.ts";
import { provisionOffline } from "../support/data-dir.ts";
import { divergences, headOf, readOnly, rebuildTable } from "./convergence.ts";

const CP = "control_plane";
const log = pino({ level: "silent" });
const ADMIN = ["create:tenants", "read:tenants", "update:tenants", "delete:tenants"];
const now = () => new Date().toISOString();

const tenantPath = (dir: string, id: string) => join(dir, "tenants", `${id}.sqlite`);

/** A data dir with child tenants made in-process (seeded from the outbox snapshot), closed again. */
async function prepareDataDir(tenants: string[], argv: string[] = []): Promise<string> {
  const dir = tempDir("tenantgate-relay-");
  await provisionOffline(dir, tenants, argv);
  return dir;
}

/** AuthHero's own connection to the control-plane file. */
function authhero(dir: string): Database {
  const db = new Database(controlPlanePath(dir));
  db.exec("PRAGMA busy_timeout = 5000");
  return db;
}

function addRole(db: Database, id: string, name: string, permissions: string[] = []): void {
  db.transaction(() => {
    db.query("INSERT INTO roles (id, tenant_id, name, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)").run(id, CP, name, `${name} role`, now(), now());
    for (const p of permissions)
      db.query("INSERT INTO role_permissions (tenant_id, role_id, resource_server_identifier, permission_name, created_at) VALUES (?, ?, 'https://api.example.com', ?, ?)").run(CP, id, p, now());
  })();
}

const hasCopy = (dir: string, tenant: string, roleId: string, description?: string) =>
  readOnly(tenantPath(dir, tenant), (db) => {
    const row = db.query("SELECT description FROM roles WHERE id = ? AND is_system = 1").get(roleId) as { description: string } | null;
    return row !== null && (description === undefined || row.description === description);
  });

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await cond()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(10);
  }
}

function diverged(dir: string, tenant: string): string[] {
  const cp = new Database(controlPlanePath(dir), { readonly: true });
  cp.exec("PRAGMA busy_timeout = 5000");
  try {
    return readOnly(tenantPath(dir, tenant), (db) => divergences(cp, db, tenant));
  } finally {
    cp.close(false);
  }
}

async function adminToken(dir: string): Promise<string> {
  return signDevToken(await loadDevKey(dir), { tenant_id: CP, permissions: ADMIN }, { audience: "urn:authhero:management" });
}

const api = (s: Served, path: string, token: string, init: RequestInit = {}) =>
  fetch(`${s.url}${path}`, { ...init, headers: { host: "localhost", authorization: `Bearer ${token}` } });

/** Another process holding a tenant file's write lock (BEGIN IMMEDIATE) until it reads "release". */
async function lockInOtherProcess(file: string): Promise<{ proc: Subprocess<"pipe", "pipe", "inherit">; release(): Promise<void> }> {
  const script = `
    import { Database } from "bun:sqlite";
    const db = new Database(process.env.LOCK_FILE);
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec("BEGIN IMMEDIATE");
    console.log("locked");
    // A safety net: never hold the lock past the test's own timeout.
    const timer = setTimeout(() => process.exit(3), 20000);
    for await (const line of console) if (line.trim() === "release") break;
    db.exec("COMMIT");
    db.close();
    clearTimeout(timer);
    console.log("released");`;
  const proc = Bun.spawn([BUN, "-e", script], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", LOCK_FILE: file }, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  let seen = "";
  while (!seen.includes("locked")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the lock holder exited before locking: ${seen}`);
    seen += new TextDecoder().decode(value);
  }
  return {
    proc,
    async release() {
      proc.stdin.write("release\n");
      await proc.stdin.end();
      await proc.exited;
      expect(proc.exitCode).toBe(0);
    },
  };
}

describe("a running serve", () => {
  const tenants = ["acme", "beta", "gamma", "delta"];
  let dir: string;
  let s: Served;
  let token: string;

  beforeAll(async () => {
    dir = await prepareDataDir(tenants);
    s = await serve(dir, ["--sync-poll-seconds", "5"]);
    token = await adminToken(dir);
  });
  afterAll(async () => {
    await s?.stop();
    removeDir(dir);
  });

  test("a role written to the control plane by a second process arrives in every tenant file within 2 s", async () => {
    // The second process commits and prints the time of its commit.
    const script = `
      import { Database } from "bun:sqlite";
      const db = new Database(process.env.CP_FILE);
      db.exec("PRAGMA busy_timeout = 5000");
      const now = new Date().toISOString();
      db.transaction(() => {
        db.query("INSERT INTO roles (id, tenant_id, name, description, created_at, updated_at) VALUES ('rol_remote', 'control_plane', 'remote', 'from another process', ?, ?)").run(now, now);
        db.query("INSERT INTO role_permissions (tenant_id, role_id, resource_server_identifier, permission_name, created_at) VALUES ('control_plane', 'rol_remote', 'https://api.example.com', 'read:remote', ?)").run(now);
      })();
      db.close();
      console.log(Date.now());`;
    const writer = Bun.spawn([BUN, "-e", script], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", CP_FILE: controlPlanePath(dir) }, stdout: "pipe", stderr: "pipe" });
    const committedAt = Number((await new Response(writer.stdout).text()).trim());
    await writer.exited;
    expect(writer.exitCode).toBe(0);

    const arrival = new Map<string, number>();
    await waitFor("rol_remote in every tenant", () => {
      for (const t of tenants) if (!arrival.has(t) && hasCopy(dir, t, "rol_remote")) arrival.set(t, Date.now());
      return arrival.size === tenants.length;
    }, 2000);
    const delay = Math.max(...arrival.values()) - committedAt;
    console.log(`control-plane write by another process → every tenant file: ${delay} ms (per tenant: ${[...arrival].map(([t, at]) => `${t} ${at - committedAt} ms`).join(", ")})`);
    expect(delay).toBeLessThan(2000);
    for (const t of tenants) expect(diverged(dir, t)).toEqual([]);
  });

  test("a tenant file locked by another process fails and backs off alone, and converges once released", async () => {
    const lock = await lockInOtherProcess(tenantPath(dir, "beta"));
    let released = false;
    try {
      const cp = authhero(dir);
      addRole(cp, "rol_locked", "during-lock", ["read:lock"]);
      cp.close(false);
      const others = tenants.filter((t) => t !== "beta");
      const quick = await waitFor("the unlocked tenants", () => others.every((t) => hasCopy(dir, t, "rol_locked")), 2000);
      console.log(`unlocked tenants converged in ${Math.round(quick)} ms while beta was locked`);
      expect(hasCopy(dir, "beta", "rol_locked")).toBe(false);

      let status: Record<string, unknown> = {};
      await waitFor("beta to be reported failing", async () => {
        status = (await (await api(s, "/api/v2/tenants/beta/sync", token)).json()) as Record<string, unknown>;
        return status.state === "failing";
      });
      expect(status.attempts as number).toBeGreaterThanOrEqual(1);
      expect(String(status.last_error)).toMatch(/locked|busy/i);
      expect(status.next_attempt_at).not.toBeNull();
      expect(status.lag as number).toBeGreaterThan(0);

      const summary = (await (await api(s, "/api/v2/sync", token)).json()) as Record<string, number>;
      expect(summary).toMatchObject({ tenants: 4, failing: 1, in_sync: 3 });

      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, "m").exec(metrics)?.[1] ?? Number.NaN);
      expect(value("tenantgate_outbox_head")).toBe(readOnly(controlPlanePath(dir), headOf));
      expect(value('tenantgate_sync_tenants{state="failing"}')).toBe(1);
      expect(value('tenantgate_sync_tenants{state="in_sync"}')).toBe(3);
      expect(value("tenantgate_sync_apply_seconds_count")).toBeGreaterThan(0);
      expect(value('tenantgate_sync_failures_total{reason="busy"}')).toBeGreaterThanOrEqual(1);

      // No manual action: the backoff retry picks beta up after the lock goes.
      const releasedAt = performance.now();
      await lock.release();
      released = true;
      await waitFor("beta after the lock is released", () => hasCopy(dir, "beta", "rol_locked"), 8000);
      console.log(`beta converged ${Math.round(performance.now() - releasedAt)} ms after the lock was released`);
      expect(diverged(dir, "beta")).toEqual([]);
      await waitFor("beta reported in sync", async () => {
        const after = (await (await api(s, "/api/v2/tenants/beta/sync", token)).json()) as Record<string, unknown>;
        return after.state === "in_sync" && after.attempts === 0 && after.last_error === null;
      }, 2000);
    } finally {
      if (!released) await lock.release();
    }
  });

  test("a table rebuild drops the capture triggers; the next wake re-installs them and reconciles every tenant in full", async () => {
    const cp = authhero(dir);
    try {
      const before = headOf(cp);
      // The migration and the writes in the window are one transaction, so no wake can fall between.
      cp.transaction(() => {
        rebuildTable(cp, "roles");
        expect(cp.query("SELECT count(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'tenantgate_roles_%'").get()).toEqual({ n: 0 });
        cp.query("INSERT INTO roles (id, tenant_id, name, description, created_at, updated_at) VALUES ('rol_uncaptured', ?, 'uncaptured', 'written while triggers were missing', ?, ?)").run(CP, now(), now());
        cp.query("UPDATE roles SET description = 'edited while triggers were missing' WHERE tenant_id = ? AND id = 'rol_remote'").run(CP);
        // Neither write reached the outbox.
        expect(headOf(cp)).toBe(before);
      })();
      const took = await waitFor(
        "the uncaptured writes in every tenant",
        () => tenants.every((t) => hasCopy(dir, t, "rol_uncaptured") && hasCopy(dir, t, "rol_remote", "edited while triggers were missing")),
        4000,
      );
      console.log(`uncaptured writes reached every tenant ${Math.round(took)} ms after the migration`);
      expect(cp.query("SELECT count(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'tenantgate\\_%' ESCAPE '\\'").get()).toEqual({ n: TRIGGER_COUNT });
      // (The log is written asynchronously.)
      await waitFor("the relay to log the full reconcile", () => s.output().includes("reconciling every tenant in full"), 2000);
      for (const t of tenants) expect(diverged(dir, t)).toEqual([]);

      // And capture works again.
      addRole(cp, "rol_after", "after-migration");
      expect(headOf(cp)).toBeGreaterThan(before);
      await waitFor("a captured write after the re-install", () => tenants.every((t) => hasCopy(dir, t, "rol_after")), 2000);
    } finally {
      cp.close(false);
    }
  });
});

test("a full reconcile owed after missing triggers is not forgotten when the process dies before it is done", async () => {
  const dir = await prepareDataDir(["acme", "beta"]);
  const { config } = loadConfig({ argv: ["--dev", "--data-dir", dir], env: {} });
  const cp = authhero(dir);
  const locker = new Database(tenantPath(dir, "beta"));
  try {
    cp.transaction(() => {
      rebuildTable(cp, "roles");
      cp.query("INSERT INTO roles (id, tenant_id, name, created_at, updated_at) VALUES ('rol_uncaptured', ?, 'uncaptured', ?, ?)").run(CP, now(), now());
    })();
    // beta is locked (as by AuthHero mid-write), so its reconcile fails and waits for a retry.
    locker.exec("BEGIN IMMEDIATE");
    const first = await openTenancy(config, log);
    const relay = await openRelay(first, config, log); // re-installs the triggers
    await relay.drain();
    expect(hasCopy(dir, "acme", "rol_uncaptured")).toBe(true);
    expect((await relay.status("beta")).state).toBe("failing");
    // The process dies here: nothing more runs (stop only clears the retry timer; it persists nothing).
    await relay.stop();
    closeTenancy(first);
    locker.exec("COMMIT");

    const second = await openTenancy(config, log);
    try {
      const again = await openRelay(second, config, log);
      await waitFor("beta to get the write made while the triggers were missing", async () => {
        await again.drain();
        return hasCopy(dir, "beta", "rol_uncaptured");
      }, 3000).catch((err: Error) => {
        throw new Error(`${err.message}; beta differs: ${diverged(dir, "beta").join("; ")}`);
      });
      expect(diverged(dir, "beta")).toEqual([]);
      await again.stop();
    } finally {
      closeTenancy(second);
    }
  } finally {
    locker.close(false);
    cp.close(false);
    removeDir(dir);
  }
});

test("compaction deletes applied rows, keeps the head, and a tenant restored below the oldest kept seq is reconciled in full", async () => {
  const dir = await prepareDataDir(["acme", "beta", "gamma"]);
  const backup = join(dir, "beta-backup.sqlite");
  let s: Served | undefined;
  try {
    // A backup of beta from before the changes below (its cursor is the head of that moment).
    readOnly(tenantPath(dir, "beta"), (db) => db.query("VACUUM INTO ?").run(backup));
    const backupCursor = readOnly(backup, (db) => (db.query("SELECT cursor FROM tenantgate_sync").get() as { cursor: number }).cursor);

    const flags = ["--outbox-retention-hours", "0", "--sync-poll-seconds", "1"];
    s = await serve(dir, flags);
    const cp = authhero(dir);
    addRole(cp, "rol_a", "compacted-away", ["read:a"]);
    // A later, unrelated change: compaction keeps the newest row, which must not be rol_a's.
    cp.query("INSERT INTO connections (id, tenant_id, name, strategy, options, created_at, updated_at) VALUES ('con_later', ?, 'later', 'oidc', '{}', ?, ?)").run(CP, now(), now());
    await waitFor("rol_a everywhere", () => ["acme", "beta", "gamma"].every((t) => hasCopy(dir, t, "rol_a")), 2000);
    await waitFor("every tenant at the head", () => diverged(dir, "acme").length + diverged(dir, "beta").length + diverged(dir, "gamma").length === 0, 2000);
    await waitFor("the outbox to be compacted", () => (cp.query("SELECT count(*) AS n FROM tenantgate_outbox WHERE seq < ?").get(headOf(cp)) as { n: number }).n === 0, 3000);
    const headA = headOf(cp);
    const token = await adminToken(dir);
    const summary = (await (await api(s, "/api/v2/sync", token)).json()) as Record<string, number>;
    // The head is the newest seq ever handed out, even when its row is gone.
    expect(summary).toMatchObject({ head: headA, tenants: 3, in_sync: 3, lagging: 0 });
    await s.stop();
    s = undefined;

    // Put the old backup of beta back (gateway stopped) as a complete file renamed over the old one:
    // `tenantgate restore` would bring it to the control plane's state itself.
    const copy = join(dir, "beta-copy.sqlite");
    readOnly(backup, (db) => db.query("VACUUM INTO ?").run(copy));
    const wal = new Database(copy);
    wal.exec("PRAGMA journal_mode = WAL");
    wal.close(false);
    for (const suffix of ["-wal", "-shm"]) rmSync(`${tenantPath(dir, "beta")}${suffix}`, { force: true });
    renameSync(copy, tenantPath(dir, "beta"));
    expect(readOnly(tenantPath(dir, "beta"), (db) => (db.query("SELECT cursor FROM tenantgate_sync").get() as { cursor: number }).cursor)).toBe(backupCursor);

    s = await serve(dir, flags);
    addRole(cp, "rol_b", "after-restore");
    const oldest = (cp.query("SELECT min(seq) AS seq FROM tenantgate_outbox").get() as { seq: number }).seq;
    expect(backupCursor).toBeLessThan(oldest - 1);
    await waitFor("rol_b in acme and gamma", () => ["acme", "gamma"].every((t) => hasCopy(dir, t, "rol_b")), 2000);
    // A replay of what is left (rol_b) is not enough: rol_a's events are gone, only a full copy is right.
    await waitFor("beta to match the control plane", () => diverged(dir, "beta").length === 0, 3000).catch((err: Error) => {
      throw new Error(`${err.message}; beta differs: ${diverged(dir, "beta").join("; ")}`);
    });
    cp.close(false);
  } finally {
    await s?.stop();
    removeDir(dir);
  }
});

describe("the sync API", () => {
  test("summary, one tenant's status with its conflicts, repair of a drifted copy, 404 and 403", async () => {
    const g = await startGateway();
    const cp = authhero(g.dataDir);
    try {
      await g.gateway.parts.lifecycle.create({ id: "acme", friendly_name: "Acme" });
      await g.gateway.parts.lifecycle.create({ id: "beta", friendly_name: "Beta" });
      // acme's own role named "viewer" before the control plane has one.
      const acme = new Database(tenantPath(g.dataDir, "acme"));
      acme.exec("PRAGMA busy_timeout = 5000");
      acme.query("INSERT INTO roles (id, tenant_id, name, is_system, created_at, updated_at) VALUES ('own_viewer', 'acme', 'viewer', 0, ?, ?)").run(now(), now());
      addRole(cp, "rol_admin", "admin", ["read:all", "write:all"]);
      addRole(cp, "rol_viewer", "viewer", ["read:all"]);
      await g.gateway.parts.relay.drain();
      const head = headOf(cp);
      const token = await g.token();

      const summary = await g.request("localhost", "/api/v2/sync", { token });
      expect(summary.status).toBe(200);
      expect(await summary.json()).toMatchObject({ head, tenants: 2, in_sync: 2, lagging: 0, failing: 0, unavailable: 0, oldest_lag_events: 0 });

      const status = await g.request("localhost", "/api/v2/tenants/acme/sync", { token });
      expect(status.status).toBe(200);
      const body = (await status.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ tenant_id: "acme", cursor: head, head, lag: 0, state: "in_sync", attempts: 0, last_error: null });
      expect(body.conflicts).toEqual([{ entity: "role", entity_id: "rol_viewer", key_value: "viewer", tenant_entity_id: "own_viewer", detected_at: expect.any(String) }]);
      expect(((await (await g.request("localhost", "/api/v2/tenants/beta/sync", { token })).json()) as { conflicts: unknown[] }).conflicts).toEqual([]);

      // Drift made directly in the file: the copy edited, a permission gone, a stray copy added.
      acme.query("UPDATE roles SET description = 'tampered' WHERE id = 'rol_admin'").run();
      acme.query("DELETE FROM role_permissions WHERE role_id = 'rol_admin' AND permission_name = 'write:all'").run();
      acme.query("INSERT INTO roles (id, tenant_id, name, is_system, created_at, updated_at) VALUES ('rol_stray', 'acme', 'stray', 1, ?, ?)").run(now(), now());
      expect(diverged(g.dataDir, "acme").length).toBeGreaterThan(0);
      const repair = await g.request("localhost", "/api/v2/tenants/acme/sync", { method: "POST", token });
      expect(repair.status).toBe(200);
      const repaired = (await repair.json()) as Record<string, number>;
      expect(repaired).toMatchObject({ tenant_id: "acme", cursor: head, conflicts: 1 });
      expect(repaired.changed).toBeGreaterThanOrEqual(2);
      expect(diverged(g.dataDir, "acme")).toEqual([]);
      acme.close(false);

      expect((await g.request("localhost", "/api/v2/tenants/nope/sync", { token })).status).toBe(404);
      expect((await g.request("localhost", "/api/v2/tenants/nope/sync", { method: "POST", token })).status).toBe(404);
      const betaToken = await g.orgToken("beta");
      expect((await g.request("localhost", "/api/v2/tenants/acme/sync", { token: betaToken })).status).toBe(403);
      expect((await g.request("localhost", "/api/v2/tenants/acme/sync", { method: "POST", token: betaToken })).status).toBe(403);
      expect((await g.request("localhost", "/api/v2/tenants/beta/sync", { token: betaToken })).status).toBe(200);
      expect((await g.request("localhost", "/api/v2/sync", { token: betaToken })).status).toBe(403);
      expect((await g.request("localhost", "/api/v2/tenants/acme/sync")).status).toBe(401);
    } finally {
      cp.close(false);
      await g.stop();
    }
  });
});
