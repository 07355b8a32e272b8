import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { loadConfig } from "../config/index.ts";
import { closeTenancy, openTenancy, type Tenancy } from "./index.ts";

let t: Tenancy | undefined;
let dir: string;
afterEach(() => {
  if (t) closeTenancy(t);
  t = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function open(): Promise<Tenancy> {
  dir = mkdtempSync(join(tmpdir(), "registry-"));
  const { config } = loadConfig({ argv: ["--dev", "--data-dir", dir], env: {} });
  t = await openTenancy(config, pino({ level: "silent" }));
  return t;
}

test("tenantgate's own provisioning is visible at once, without a reload", async () => {
  const { lifecycle, registry } = await open();
  const created = await lifecycle.create({ id: "acme", friendly_name: "Acme" });
  expect(await registry.status("acme")).toBe("ready");
  expect(await registry.tenantOfOrg(created.organization_id)).toBe("acme");
  expect(await registry.orgOfTenant("acme")).toBe(created.organization_id);
  await lifecycle.delete("acme");
  expect(await registry.status("acme")).toBe("unknown");
  expect(await registry.tenantOfOrg(created.organization_id)).toBeUndefined();
});

test("another process's commits to the control plane are seen through data_version", async () => {
  const { cp, registry, lifecycle } = await open();
  await lifecycle.create({ id: "acme", friendly_name: "Acme" });
  const org = (await registry.orgOfTenant("acme")) as string;
  const other = new Database(cp.path);
  try {
    other.exec("PRAGMA busy_timeout = 5000");
    const now = new Date().toISOString();
    // As AuthHero would: a new organization (not a tenant), a custom domain, and acme's organization gone.
    other.query("INSERT INTO custom_domains (custom_domain_id, tenant_id, domain, \"primary\", status, type, created_at, updated_at) VALUES ('cd_1', 'acme', 'login.acme.com', 0, 'ready', 'self_managed_certs', ?, ?)").run(now, now);
    expect(await registry.customDomain("login.acme.com")).toBe("acme");
    other.query("DELETE FROM organizations WHERE id = ?").run(org);
    // A positive answer may be up to 250 ms stale (looking costs a read transaction per request)...
    expect(await registry.tenantOfOrg(org)).toBe("acme");
    await Bun.sleep(300);
    // ...and no more.
    expect(await registry.tenantOfOrg(org)).toBeUndefined();
    other.query("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES ('ext', 'External', ?, ?)").run(now, now);
    // A miss looks again at once. Listed but no file: unavailable rather than unknown.
    expect(await registry.status("ext")).toBe("missing");
  } finally {
    other.close();
  }
});

test("every change to what the registry answers moves the generation and tells its listeners", async () => {
  const { lifecycle, registry, cp } = await open();
  const heard: number[] = [];
  registry.onChange((g) => heard.push(g));
  const step = async (what: () => unknown) => {
    const before = heard.length;
    await what();
    expect(heard.length).toBeGreaterThan(before);
    expect(heard.at(-1)).toBe(registry.generation());
  };
  await step(() => lifecycle.create({ id: "acme", friendly_name: "Acme" }));
  await step(() => registry.markBusy("acme", "deleting"));
  await step(() => registry.clearBusy("acme"));
  await step(() => registry.fileRemoved("acme"));
  await step(() => registry.fileAdded("acme"));
  await step(() => registry.rescan());
  await step(() => lifecycle.delete("acme"));
  // Another process's commit: heard when the registry next looks (at most 250 ms later).
  const other = new Database(cp.path);
  try {
    other.exec("PRAGMA busy_timeout = 5000");
    const now = new Date().toISOString();
    other.query("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES ('ext', 'External', ?, ?)").run(now, now);
  } finally {
    other.close();
  }
  const before = heard.length;
  await Bun.sleep(300);
  registry.generation();
  expect(heard.length).toBe(before + 1);
});

test("a tenant file whose content changes keeps the generation; one that can no longer be read moves it", async () => {
  const { lifecycle, registry } = await open();
  await lifecycle.create({ id: "acme", friendly_name: "Acme" });
  expect(await registry.status("acme")).toBe("ready");
  const generation = registry.generation();
  // As the watcher reports a write (a checkpoint) to a file it knows.
  registry.fileAdded("acme");
  expect(registry.generation()).toBe(generation);
  // Overwritten with something that is no SQLite file.
  writeFileSync(t!.files!.pathOf("acme"), "not a database");
  registry.fileAdded("acme");
  expect(registry.generation()).toBeGreaterThan(generation);
  expect(await registry.status("acme")).toBe("unreadable");
});

test("reading changes nothing: a file that came or went behind the registry's back is answered from disk, and recorded by the watcher or the rescan", async () => {
  const { lifecycle, registry, cp } = await open();
  await lifecycle.create({ id: "acme", friendly_name: "Acme" });
  // As `tenantgate tenants create` beside the gateway would: another connection, another registry.
  const other = await openTenancy(loadConfig({ argv: ["--dev", "--data-dir", dir], env: {} }).config, pino({ level: "silent" }));
  try {
    await other.lifecycle.create({ id: "fresh", friendly_name: "Fresh" });
  } finally {
    closeTenancy(other);
  }
  renameSync(t!.files!.pathOf("acme"), join(dir, "acme.aside"));
  // The control plane's commit is news of its own; what follows is only reading.
  await registry.refresh("check");
  expect(await cp.tenant("fresh")).toBeDefined();
  const generation = registry.generation();
  const heard: number[] = [];
  registry.onChange((g) => heard.push(g));

  for (let i = 0; i < 2; i++) {
    expect(await registry.status("fresh")).toBe("ready");
    expect(await registry.status("acme")).toBe("missing");
    expect(await registry.counts()).toMatchObject({ ready: 1, missing: 1 });
  }
  expect(registry.generation()).toBe(generation);
  expect(heard).toEqual([]);

  // The rescan is what records them.
  await registry.rescan();
  expect(registry.generation()).toBeGreaterThan(generation);
  expect(await registry.status("fresh")).toBe("ready");
  expect(await registry.status("acme")).toBe("missing");
});

test("a listener hears another process's commit without anyone asking the registry, until it stops listening", async () => {
  const { registry, cp } = await open();
  const heard: number[] = [];
  const stop = registry.onChange((g) => heard.push(g));
  const other = new Database(cp.path);
  try {
    other.exec("PRAGMA busy_timeout = 5000");
    const now = new Date().toISOString();
    other.query("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES ('ext', 'External', ?, ?)").run(now, now);
    const since = performance.now();
    while (heard.length === 0 && performance.now() - since < 2000) await Bun.sleep(5);
    // The control plane is watched every 200 ms while anyone listens (the front door's answers rely on it).
    expect(heard.length).toBe(1);
    expect(performance.now() - since).toBeLessThan(400);

    await stop();
    const generation = registry.generation();
    other.query("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES ('ext2', 'External 2', ?, ?)").run(now, now);
    await Bun.sleep(500);
    expect(heard.length).toBe(1);
    // A lookup still looks, and finds the commit.
    expect(await registry.status("ext2")).toBe("missing");
    expect(registry.generation()).toBe(generation + 1);
  } finally {
    other.close();
  }
});
