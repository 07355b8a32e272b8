import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { divergences } from "../../test/sync/convergence.ts";
import { cpWrites, openFixture, tenantWrites, type SyncFixture } from "../../test/sync/fixture.ts";

// Restore over real files, between two deployments: each its own data directory and control plane.
// "there" made the backup; it has more history than "here" (its outbox head is past here's) and
// roles here never had. A tenant's file carries its deployment's mark and its sync cursor, which
// counts events of the outbox beside which it was made.

let here: SyncFixture | undefined;
let there: SyncFixture | undefined;
afterEach(() => {
  here?.close();
  there?.close();
  here = there = undefined;
});

type Row = Record<string, unknown>;

async function deployments(): Promise<{ here: SyncFixture; there: SyncFixture }> {
  here = await openFixture();
  there = await openFixture();
  cpWrites(here.authhero).role("rol_here", "support");
  const w = cpWrites(there.authhero);
  for (let i = 0; i < 20; i++) w.role(`rol_there_${i}`, `there-${i}`);
  await here.lifecycle.create({ id: "acme", friendly_name: "Acme" });
  await there.lifecycle.create({ id: "acme", friendly_name: "Acme elsewhere" });
  tenantWrites(there.tenantFile("acme"), "acme").role("rol_own", "acme-own");
  return { here, there };
}

/** A backup of `id` made by `d`'s own backup command, in its data directory. */
async function backupOf(d: SyncFixture, id: string, name = `${id}.backup.sqlite`): Promise<string> {
  const file = join(d.dataDir, name);
  await d.lifecycle.backup(id, file);
  return file;
}

function inFile<T>(path: string, fn: (db: Database) => T): T {
  const db = new Database(path);
  try {
    return fn(db);
  } finally {
    db.close(false);
  }
}

const rolesOf = (d: SyncFixture, id: string) => d.tenantFile(id).query("SELECT id, is_system FROM roles ORDER BY id").all() as Row[];
const refusal = async (fn: () => unknown): Promise<string> => {
  try {
    await fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected a refusal");
};

describe("a backup made on another deployment", () => {
  test("is refused, naming the file, both deployments and what to do; the current file stays", async () => {
    const { here, there } = await deployments();
    const file = await backupOf(there, "acme");
    // The backup says whose it is.
    const thereId = await there.cp.deploymentId();
    const hereId = await here.cp.deploymentId();
    expect(inFile(file, (db) => db.query("SELECT deployment_id, tenant_id FROM tenantgate_origin").all())).toEqual([{ deployment_id: thereId, tenant_id: "acme" }]);
    expect(hereId).not.toBe(thereId);
    const before = rolesOf(here, "acme");

    const message = await refusal(() => here.lifecycle.restore("acme", file));
    for (const part of [file, "made on another deployment", thereId, hereId, "restore control_plane", `tenantgate restore acme ${file} --from-other-deployment`]) expect(message).toContain(part);
    expect(rolesOf(here, "acme")).toEqual(before);
    expect((await here.relay.status("acme")).state).toBe("in_sync");
  });

  test("--from-other-deployment takes it, in sync with this control plane at once: cursor at this head, the other's synced roles gone, its own kept", async () => {
    const { here, there } = await deployments();
    const file = await backupOf(there, "acme");
    expect((await there.relay.head())).toBeGreaterThan((await here.relay.head()));

    await here.lifecycle.restore("acme", file, { fromOtherDeployment: true });
    expect(await here.relay.status("acme")).toMatchObject({ state: "in_sync", cursor: (await here.relay.head()), lag: 0 });
    expect(rolesOf(here, "acme")).toEqual([
      { id: "rol_here", is_system: 1 },
      { id: "rol_own", is_system: 0 },
    ]);
    expect(divergences(here.authhero, here.tenantFile("acme"), "acme")).toEqual([]);
    // The restored file is this deployment's now.
    const hereId = await here.cp.deploymentId();
    expect(here.tenantFile("acme").query("SELECT deployment_id, tenant_id FROM tenantgate_origin").get()).toEqual({ deployment_id: hereId, tenant_id: "acme" });
  });

  test("one made before backups were marked is taken and repaired at once: no cursor above the head, no foreign synced role", async () => {
    const { here, there } = await deployments();
    const file = await backupOf(there, "acme");
    inFile(file, (db) => db.exec("DROP TABLE IF EXISTS tenantgate_origin"));

    await here.lifecycle.restore("acme", file);
    const status = await here.relay.status("acme");
    expect(status).toMatchObject({ state: "in_sync", cursor: (await here.relay.head()), head: (await here.relay.head()) });
    expect(rolesOf(here, "acme").filter((r) => r.is_system === 1)).toEqual([{ id: "rol_here", is_system: 1 }]);
    expect(divergences(here.authhero, here.tenantFile("acme"), "acme")).toEqual([]);
  });
});

describe("a backup of another tenant, or of another kind of file", () => {
  test("another tenant's backup is refused as this tenant's, marked or not, naming whose it is", async () => {
    here = await openFixture();
    await here.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    await here.lifecycle.create({ id: "beta", friendly_name: "Beta" });
    const file = await backupOf(here, "beta");
    expect(await refusal(() => here?.lifecycle.restore("acme", file))).toContain(`${file} is a backup of tenant "beta", not of "acme"`);
    expect(await refusal(() => here?.lifecycle.restore("acme", file))).toContain(`tenantgate restore beta ${file}`);
    inFile(file, (db) => db.exec("DROP TABLE IF EXISTS tenantgate_origin"));
    expect(await refusal(() => here?.lifecycle.restore("acme", file))).toContain(`${file} cannot be restored as tenant "acme": it holds no tenants row for "acme" (it is tenant "beta"'s data`);
    // As beta it is right.
    await here.lifecycle.restore("beta", file);
    expect(await here.relay.status("beta")).toMatchObject({ state: "in_sync", cursor: (await here.relay.head()) });
  });

  test("the control plane's backup is no tenant's, and a tenant's is not the control plane's", async () => {
    here = await openFixture();
    await here.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const cp = await backupOf(here, "control_plane");
    const acme = await backupOf(here, "acme");
    expect(await refusal(() => here?.lifecycle.restore("acme", cp))).toContain(`${cp} is the control plane's file, not tenant "acme"'s; restore it as "control_plane"`);
    expect(await refusal(() => here?.lifecycle.restore("control_plane", acme))).toContain(`${acme} is a tenant's file, not the control plane's`);
  });
});

test("a backup from this deployment, behind the control plane, is brought to its state as it is restored", async () => {
  here = await openFixture();
  const w = cpWrites(here.authhero);
  w.role("rol_1", "admin");
  w.role("rol_2", "viewer");
  await here.lifecycle.create({ id: "acme", friendly_name: "Acme" });
  const file = await backupOf(here, "acme");
  here.authhero.exec("DELETE FROM roles WHERE id = 'rol_1'");
  w.role("rol_3", "editor");

  await here.lifecycle.restore("acme", file);
  expect(await here.relay.status("acme")).toMatchObject({ state: "in_sync", cursor: (await here.relay.head()) });
  expect(rolesOf(here, "acme")).toEqual([
    { id: "rol_2", is_system: 1 },
    { id: "rol_3", is_system: 1 },
  ]);
  expect(divergences(here.authhero, here.tenantFile("acme"), "acme")).toEqual([]);
});
