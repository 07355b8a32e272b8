// The data-directory watcher with a real in-process gateway (rescan every second): files that vanish,
// come back, or appear unregistered. No upstream runs, so a ready tenant's proxied request is a 502;
// a tenant whose file is gone is a 503; an unknown tenant is a 404.
import { Database } from "bun:sqlite";
import pino from "pino";
import { closeTenancy, openTenancy } from "../../src/tenancy/index.ts";
import { copyTenantFileAs } from "../support/tenant-file.ts";
import { afterEach, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { until } from "../support/until.ts";

const NO_UPSTREAM = ["--upstream", "http://127.0.0.1:9"];
const running: TestGateway[] = [];
afterEach(async () => {
  for (const g of running.splice(0)) await g.stop();
});

async function gateway(argv: string[] = []): Promise<TestGateway> {
  const g = await startGateway([...NO_UPSTREAM, ...argv]);
  running.push(g);
  return g;
}

async function status(g: TestGateway, tenant: string): Promise<number> {
  const res = await g.request(`${tenant}.localhost`, "/authorize");
  await res.arrayBuffer();
  return res.status;
}

const tenantsDir = (g: TestGateway) => join(g.dataDir, "tenants");

/** A consistent copy of a tenant file, as `tenantgate backup` makes one. */
function snapshot(g: TestGateway, tenant: string, to: string): void {
  const db = new Database(join(tenantsDir(g), `${tenant}.sqlite`));
  try {
    db.query("VACUUM INTO ?").run(to);
  } finally {
    db.close(false);
  }
}

describe("a tenant file that disappears", () => {
  test("makes only that tenant answer 503 within ~2 s, and it comes back when the file does", async () => {
    const g = await gateway();
    await g.gateway.parts.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    await g.gateway.parts.lifecycle.create({ id: "beta", friendly_name: "Beta" });
    expect(await status(g, "acme")).toBe(502);
    expect(await status(g, "beta")).toBe(502);
    expect(await status(g, "nope")).toBe(404);

    const file = join(tenantsDir(g), "acme.sqlite");
    const aside = join(g.dataDir, "acme.aside");
    renameSync(file, aside);
    const started = performance.now();
    await until("acme after its file was removed", () => status(g, "acme"), (s) => s === 503);
    expect(performance.now() - started).toBeLessThan(2000);
    const body = (await (await g.request("acme.localhost", "/authorize")).json()) as { statusCode: number; message: string };
    expect(body.statusCode).toBe(503);
    expect(body.message).toContain("missing");
    expect(await status(g, "beta")).toBe(502);
    expect((await g.request("localhost", "/healthz")).status).toBe(200);
    // Unavailable, never deleted: the control plane still lists it.
    expect(g.gateway.parts.cp.tenant("acme")).toBeDefined();
    expect(g.gateway.parts.cp.organizationOf("acme")).toBeDefined();

    renameSync(aside, file);
    await until("acme after its file was restored", () => status(g, "acme"), (s) => s === 502);
    expect(await status(g, "beta")).toBe(502);
  });

  test("a file replaced by junk makes the tenant 503 (unreadable), a good file brings it back", async () => {
    const g = await gateway();
    await g.gateway.parts.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const file = join(tenantsDir(g), "acme.sqlite");
    const good = join(g.dataDir, "acme.good");
    copyFileSync(file, good);
    writeFileSync(file, "garbage, not a database".repeat(100));
    await until("acme with a junk file", () => status(g, "acme"), (s) => s === 503);
    copyFileSync(good, file);
    await until("acme with its file back", () => status(g, "acme"), (s) => s === 502);
  });
});

describe("a file that appears without a control-plane row", () => {
  test("is adopted when valid (registered with an organization); junk and invalid names never are", async () => {
    const g = await gateway();
    await g.gateway.parts.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const backup = join(g.dataDir, "acme-backup.sqlite");
    snapshot(g, "acme", backup);

    copyTenantFileAs(backup, join(tenantsDir(g), "newco.sqlite"), "acme", "newco");
    copyFileSync(backup, join(tenantsDir(g), "Bad_Name.sqlite"));
    writeFileSync(join(tenantsDir(g), "junk.sqlite"), "not sqlite ".repeat(500));
    const noTenants = new Database(join(tenantsDir(g), "plain.sqlite"), { create: true });
    noTenants.exec("CREATE TABLE t (x INTEGER)");
    noTenants.close(false);

    await until("newco adopted", () => Boolean(g.gateway.parts.cp.tenant("newco") && g.gateway.parts.cp.organizationOf("newco")), (v) => v);
    const org = g.gateway.parts.cp.organizationOf("newco");
    expect(org?.id).toMatch(/^org_/);
    expect(org?.id).not.toBe(g.gateway.parts.cp.organizationOf("acme")?.id);
    expect(g.gateway.parts.registry.tenantOfOrg(org?.id as string)).toBe("newco");
    expect(g.gateway.parts.journal.history("newco").map((o) => [o.kind, o.state])).toEqual([["adopt", "done"]]);
    await until("newco routed", () => status(g, "newco"), (s) => s === 502);

    // Give the periodic rescan more than one turn at the others.
    await Bun.sleep(1300);
    for (const id of ["junk", "plain", "Bad_Name", "bad_name"]) {
      expect(g.gateway.parts.cp.tenant(id)).toBeUndefined();
      expect(g.gateway.parts.cp.organizationOf(id)).toBeUndefined();
      expect(g.gateway.parts.journal.history(id)).toEqual([]);
    }
    expect(await status(g, "junk")).toBe(404);
    expect(await status(g, "plain")).toBe(404);
    // Still on disk, untouched: reported, never moved or deleted.
    expect(existsSync(join(tenantsDir(g), "junk.sqlite"))).toBe(true);
    expect(existsSync(join(tenantsDir(g), "Bad_Name.sqlite"))).toBe(true);
    expect(g.gateway.parts.registry.orphans().sort()).toEqual(["junk", "plain"]);
  });

  test("is only reported, never registered, with --no-adopt-files", async () => {
    const g = await gateway(["--no-adopt-files"]);
    expect(g.config.adoptFiles).toBe(false);
    await g.gateway.parts.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const backup = join(g.dataDir, "acme-backup.sqlite");
    snapshot(g, "acme", backup);
    copyTenantFileAs(backup, join(tenantsDir(g), "newco.sqlite"), "acme", "newco");

    await until("newco seen as an orphan", () => g.gateway.parts.registry.orphans(), (o) => o.includes("newco"));
    await Bun.sleep(1300);
    expect(g.gateway.parts.cp.tenant("newco")).toBeUndefined();
    expect(g.gateway.parts.cp.organizationOf("newco")).toBeUndefined();
    expect(g.gateway.parts.journal.history("newco")).toEqual([]);
    expect(await status(g, "newco")).toBe(404);
    expect(await status(g, "acme")).toBe(502);
    // The metrics report it.
    const metrics = await (await g.request("localhost", "/metrics")).text();
    expect(metrics).toContain(`tenantgate_tenants{state="orphan"} 1`);
    expect(metrics).toContain(`tenantgate_tenants{state="ready"} 1`);
  });
});

describe("the periodic rescan is the truth", () => {
  test("a tenant another process provisions is served at once, before any watcher event or rescan", async () => {
    const g = await gateway();
    await g.gateway.parts.watch.stop();
    // As `tenantgate tenants create` beside the gateway would: another connection, another registry.
    const other = openTenancy(g.config, pino({ level: "silent" }));
    try {
      await other.lifecycle.create({ id: "fresh", friendly_name: "Fresh" });
    } finally {
      closeTenancy(other);
    }
    expect(await status(g, "fresh")).toBe(502);
  });

  test("a bogus or early 'removed' for a file that is still there never makes its tenant unavailable", async () => {
    const g = await gateway();
    await g.gateway.parts.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    expect(await status(g, "acme")).toBe(502);
    // The registry believes the file gone; before answering 503 it looks, finds it, and serves.
    g.gateway.parts.registry.fileRemoved("acme");
    expect(await status(g, "acme")).toBe(502);
    expect(g.gateway.parts.registry.status("acme")).toBe("ready");
  });

  test("notices a removal and an arrival the watcher missed when rescan runs", async () => {
    const g = await gateway();
    // Blind the gateway first: no watcher events, no timer; only explicit rescans change its view.
    await g.gateway.parts.watch.stop();
    await g.gateway.parts.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    expect(await status(g, "acme")).toBe(502);
    snapshot(g, "acme", join(g.dataDir, "acme-backup.sqlite"));
    const file = join(tenantsDir(g), "acme.sqlite");
    renameSync(file, join(g.dataDir, "acme.aside"));
    copyTenantFileAs(join(g.dataDir, "acme-backup.sqlite"), join(tenantsDir(g), "newco.sqlite"), "acme", "newco");
    await Bun.sleep(300);
    // Nothing noticed: the registry still believes what it last saw.
    expect(await status(g, "acme")).toBe(502);
    expect(g.gateway.parts.registry.orphans()).toEqual([]);
    expect(g.gateway.parts.cp.organizationOf("newco")).toBeUndefined();
    await g.gateway.parts.watch.rescan();
    expect(await status(g, "acme")).toBe(503);
    expect(g.gateway.parts.cp.organizationOf("newco")).toBeDefined();
    expect(await status(g, "newco")).toBe(502);
    renameSync(join(g.dataDir, "acme.aside"), file);
    await g.gateway.parts.watch.rescan();
    expect(await status(g, "acme")).toBe(502);
  });
});

describe("the watcher alone (periodic rescan far away)", () => {
  test("adopts a file copied in right after start and notices removals within ~2 s", async () => {
    const g = await gateway(["--rescan-seconds", "600"]);
    await g.gateway.parts.lifecycle.create({ id: "acme", friendly_name: "Acme" });
    const backup = join(g.dataDir, "acme-backup.sqlite");
    snapshot(g, "acme", backup);
    // Right after start: the watcher may still be reading the folder.
    copyTenantFileAs(backup, join(tenantsDir(g), "newco.sqlite"), "acme", "newco");
    await until("newco adopted", () => Boolean(g.gateway.parts.cp.organizationOf("newco")), (v) => v);
    expect(await status(g, "newco")).toBe(502);

    // Once the watcher runs, arrivals and removals come by its events alone.
    await Bun.sleep(200);
    copyTenantFileAs(backup, join(tenantsDir(g), "later.sqlite"), "acme", "later");
    await until("later adopted", () => Boolean(g.gateway.parts.cp.organizationOf("later")), (v) => v);
    expect(await status(g, "later")).toBe(502);
    const file = join(tenantsDir(g), "later.sqlite");
    renameSync(file, join(g.dataDir, "later.aside"));
    const started = performance.now();
    await until("later after its file was removed", () => status(g, "later"), (s) => s === 503);
    expect(performance.now() - started).toBeLessThan(2000);
    renameSync(join(g.dataDir, "later.aside"), file);
    await until("later after its file came back", () => status(g, "later"), (s) => s === 502);
  });
});
