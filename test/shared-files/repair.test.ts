// A tenant file that another process rolls back, cuts short or strips of its WAL under a running
// gateway: the gateway sees it (at a rescan, when it reads the file's status, at start), repairs what
// the relay had committed from the control plane, and serves nothing from a file it cannot read.
// The foreign processes are real: Debian's sqlite3 CLI, coreutils, and tenantgate's own CLI.
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { Gateway } from "../../src/app.ts";
import { loadConfig } from "../../src/config/index.ts";
import { cli } from "../cli/spawn.ts";
import { startGateway, tempDataDir, type TestGateway } from "../support/gateway.ts";
import { until } from "../support/until.ts";
import { foreignClientsMissing } from "./foreign.ts";

const running: TestGateway[] = [];
afterEach(async () => {
  for (const g of running.splice(0)) await g.stop();
});

async function gateway(argv: string[] = [], dataDir?: string): Promise<TestGateway> {
  const g = await startGateway(["--upstream", "http://127.0.0.1:9", ...argv], dataDir);
  running.push(g);
  return g;
}

const fileOf = (g: TestGateway, id: string) => join(g.dataDir, "tenants", `${id}.sqlite`);

/** A role written on the control plane as AuthHero writes it: its own connection, its own commit. */
function addControlPlaneRole(g: TestGateway, id: string): void {
  const cp = new Database(join(g.dataDir, "tenants", "control_plane.sqlite"));
  try {
    cp.exec("PRAGMA busy_timeout = 5000");
    const now = new Date().toISOString();
    cp.query("INSERT INTO roles (id, tenant_id, name, created_at, updated_at) VALUES (?, 'control_plane', ?, ?, ?)").run(id, id, now, now);
  } finally {
    cp.close(false);
  }
}

/** What another process reads in a tenant file: its synced role ids and its cursor. */
function seenByAnotherProcess(path: string): { roles: string[]; cursor: number } {
  const r = Bun.spawnSync(["sqlite3", "-cmd", ".timeout 5000", path, "SELECT group_concat(id) FROM (SELECT id FROM roles WHERE is_system = 1 ORDER BY id); SELECT cursor FROM tenantgate_sync"], { stdout: "pipe", stderr: "pipe" });
  const [roles = "", cursor = "-1"] = r.stdout.toString().trim().split("\n");
  return { roles: roles ? roles.split(",") : [], cursor: Number(cursor) };
}

function sqlite3(path: string, command: string): void {
  const r = Bun.spawnSync(["sqlite3", "-cmd", ".timeout 5000", path, command], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`sqlite3 ${command}: ${r.stderr.toString()}`);
}

async function syncStatus(g: TestGateway, id: string): Promise<{ state: string; cursor: number | null }> {
  const res = await g.request("localhost", `/api/v2/tenants/${id}/sync`, { token: await g.token() });
  expect(res.status).toBe(200);
  return (await res.json()) as { state: string; cursor: number | null };
}

async function proxiedStatus(g: TestGateway, id: string): Promise<number> {
  const res = await g.request(`${id}.localhost`, "/authorize");
  await res.arrayBuffer();
  return res.status;
}

/** acme with rol_a synced and a backup of that state, then rol_b synced too. */
async function acmeWithBackup(g: TestGateway): Promise<string> {
  await g.gateway.parts.lifecycle.create({ id: "acme", friendly_name: "Acme" });
  await g.gateway.parts.lifecycle.create({ id: "beta", friendly_name: "Beta" });
  // The watcher reports a new file once its events have settled (150 ms) and then reads it afresh:
  // wait for that, so it cannot be what repairs the changes below.
  await Bun.sleep(400);
  addControlPlaneRole(g, "rol_a");
  await until("rol_a in acme", () => seenByAnotherProcess(fileOf(g, "acme")).roles, (r) => r.includes("rol_a"), 4000);
  const backup = join(g.dataDir, "acme-before-rol_b.sqlite");
  sqlite3(fileOf(g, "acme"), `.backup ${backup}`);
  addControlPlaneRole(g, "rol_b");
  await until("rol_b in acme", () => seenByAnotherProcess(fileOf(g, "acme")).roles, (r) => r.includes("rol_b"), 4000);
  // The gateway holds acme open, as it does for a tenant it serves.
  expect((await syncStatus(g, "acme")).state).toBe("in_sync");
  return backup;
}

describe.skipIf(foreignClientsMissing)("a tenant file changed under the gateway", () => {
  test("rolled back in place (sqlite3 .restore of an older backup): repaired at the next rescan, with no control-plane change", async () => {
    const g = await gateway();
    const backup = await acmeWithBackup(g);
    const head = seenByAnotherProcess(fileOf(g, "acme")).cursor;
    sqlite3(fileOf(g, "acme"), `.restore ${backup}`);
    expect(seenByAnotherProcess(fileOf(g, "acme")).roles).toEqual(["rol_a"]);
    const repaired = await until("acme repaired", () => seenByAnotherProcess(fileOf(g, "acme")), (s) => s.roles.includes("rol_b"), 5000);
    expect(repaired).toEqual({ roles: ["rol_a", "rol_b"], cursor: head });
    expect(await syncStatus(g, "acme")).toMatchObject({ state: "in_sync", cursor: head });
  });

  // A script that writes an older state's rows back: SQL on the live file, no file event the watcher reports.
  const rollBackBySql = (path: string) => sqlite3(path, "DELETE FROM roles WHERE id = 'rol_b'; UPDATE tenantgate_sync SET cursor = cursor - 1;");

  test("rolled back by a script's SQL: repaired at the next rescan, with no control-plane change", async () => {
    const g = await gateway();
    await acmeWithBackup(g);
    const head = seenByAnotherProcess(fileOf(g, "acme")).cursor;
    rollBackBySql(fileOf(g, "acme"));
    const repaired = await until("acme repaired", () => seenByAnotherProcess(fileOf(g, "acme")), (s) => s.roles.includes("rol_b"), 5000);
    expect(repaired).toEqual({ roles: ["rol_a", "rol_b"], cursor: head });
  });

  test("rolled back by a script's SQL, seen by a status read: repaired at once, not at the next rescan", async () => {
    const g = await gateway(["--rescan-seconds", "3600"]);
    await acmeWithBackup(g);
    rollBackBySql(fileOf(g, "acme"));
    // The status is the file's, never what the relay remembers committing.
    expect((await syncStatus(g, "acme")).state).not.toBe("in_sync");
    await until("acme repaired", () => seenByAnotherProcess(fileOf(g, "acme")).roles, (r) => r.includes("rol_b"), 2000);
    await until("acme in sync", () => syncStatus(g, "acme"), (s) => s.state === "in_sync", 2000);
  });

  test("rolled back while the gateway was down: repaired at start, with no control-plane change", async () => {
    const dataDir = tempDataDir();
    const g = await gateway([], dataDir);
    const backup = await acmeWithBackup(g);
    await g.gateway.close();
    running.splice(running.indexOf(g), 1);
    sqlite3(fileOf(g, "acme"), `.restore ${backup}`);
    const { config } = loadConfig({ argv: ["--dev", "--port", "0", "--data-dir", dataDir, "--upstream", "http://127.0.0.1:9"], env: {} });
    const again = await Gateway.open(config, pino({ level: "silent" }));
    await again.listen();
    try {
      await until("acme repaired at start", () => seenByAnotherProcess(fileOf(g, "acme")).roles, (r) => r.includes("rol_b"), 3000);
    } finally {
      await again.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("its WAL deleted under the gateway: the gateway stops writing where nobody reads, and repairs the file", async () => {
    const g = await gateway();
    await acmeWithBackup(g);
    rmSync(`${fileOf(g, "acme")}-wal`);
    rmSync(`${fileOf(g, "acme")}-shm`);
    addControlPlaneRole(g, "rol_c");
    await until("rol_c visible to others", () => seenByAnotherProcess(fileOf(g, "acme")).roles, (r) => r.includes("rol_c"), 5000);
    const cursor = seenByAnotherProcess(fileOf(g, "acme")).cursor;
    await until("acme reported at its file's cursor", () => syncStatus(g, "acme"), (s) => s.state === "in_sync" && s.cursor === cursor, 3000);
  });

  test("cut short: that tenant answers 503 alone, and comes back repaired after tenantgate restore", async () => {
    const g = await gateway();
    const backup = await acmeWithBackup(g);
    expect(await proxiedStatus(g, "acme")).toBe(502);
    const size = Bun.file(fileOf(g, "acme")).size;
    expect(Bun.spawnSync(["truncate", "-s", String(Math.floor(size / 2)), fileOf(g, "acme")]).exitCode).toBe(0);
    await until("acme to answer 503", () => proxiedStatus(g, "acme"), (s) => s === 503, 4000);
    expect(await proxiedStatus(g, "beta")).toBe(502);
    expect((await syncStatus(g, "acme")).state).toBe("unavailable");

    const restored = await cli(g.dataDir, ["restore", "acme", backup]);
    if (restored.code !== 0) throw new Error(`restore failed (${restored.code}): ${restored.stderr}`);
    expect(restored.code).toBe(0);
    await until("acme to serve again", () => proxiedStatus(g, "acme"), (s) => s === 502, 4000);
    await until("acme repaired", () => seenByAnotherProcess(fileOf(g, "acme")).roles, (r) => r.includes("rol_b"), 3000);
    await until("acme in sync", () => syncStatus(g, "acme"), (s) => s.state === "in_sync", 2000);
  });
});
