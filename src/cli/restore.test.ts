import { expect, test } from "bun:test";
import { join } from "node:path";
import { cliInProcess } from "../../test/support/cli-in-process.ts";

const { dir, run } = cliInProcess("tenantgate-restore-");
/** Another deployment: a data directory of its own, with its own control plane. */
const there = cliInProcess("tenantgate-restore-there-");

test("a backup goes in place, the current file to the trash, its synced copies the control plane's; a deleted tenant is registered again", async () => {
  expect((await run(["tenants", "create", "acme"])).code).toBe(0);
  const file = join(dir, "acme.backup.sqlite");
  expect((await run(["backup", "acme", file])).code).toBe(0);
  const restored = await run(["restore", "acme", file]);
  expect(restored.lines[0]).toStartWith("moved the current file to ");
  expect(restored.lines.slice(1)).toEqual([`restored acme from ${file}`, expect.stringMatching(/^its synced copies are the control plane's \(cursor \d+\)$/)]);
  expect((await run(["tenants", "delete", "acme"])).code).toBe(0);
  expect((await run(["restore", "acme", file])).lines[0]).toBe(`restored acme from ${file}`);
  expect((await run(["tenants", "list"])).lines[0]).toMatch(/^acme\tready\torg_/);
});

// A backup that is not a database is tested in test/cli: writing one from here would put a raw
// descriptor in src/, which test/storage/file-probe.test.ts refuses outside its list.
test("a backup that is not there, or not named, is refused", async () => {
  await expect(run(["restore", "acme", join(dir, "missing.sqlite")])).rejects.toThrow("missing.sqlite does not exist");
  await expect(run(["restore", "acme"])).rejects.toThrow("missing the backup file");
});

test("another deployment's backup is refused unless --from-other-deployment says to move the tenant here", async () => {
  expect((await there.run(["tenants", "create", "beta"])).code).toBe(0);
  const file = join(there.dir, "beta.backup.sqlite");
  expect((await there.run(["backup", "beta", file])).code).toBe(0);
  await expect(run(["restore", "beta", file])).rejects.toThrow(`${file} is a backup of "beta" made on another deployment`);
  expect((await run(["tenants", "list"])).lines.some((l) => l.startsWith("beta\t"))).toBe(false);
  const moved = await run(["restore", "beta", file, "--from-other-deployment"]);
  expect(moved.lines).toEqual([`restored beta from ${file}`, expect.stringMatching(/^its synced copies are the control plane's \(cursor \d+\)$/)]);
  expect((await run(["tenants", "list"])).lines.some((l) => /^beta\tready\torg_/.test(l))).toBe(true);
});
