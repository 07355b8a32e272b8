import { expect, test } from "bun:test";
import { join } from "node:path";
import { cliInProcess } from "../../test/support/cli-in-process.ts";

const { dir, run } = cliInProcess("tenantgate-restore-");

test("a backup goes in place, the current file to the trash; a deleted tenant is registered again", async () => {
  expect((await run(["tenants", "create", "acme"])).code).toBe(0);
  const file = join(dir, "acme.backup.sqlite");
  expect((await run(["backup", "acme", file])).code).toBe(0);
  const restored = await run(["restore", "acme", file]);
  expect(restored.lines[0]).toStartWith("moved the current file to ");
  expect(restored.lines[1]).toBe(`restored acme from ${file}`);
  expect((await run(["tenants", "delete", "acme"])).code).toBe(0);
  expect((await run(["restore", "acme", file])).lines).toEqual([`restored acme from ${file}`]);
  expect((await run(["tenants", "list"])).lines[0]).toMatch(/^acme\tready\torg_/);
});

// A backup that is not a database is tested in test/cli: writing one from here would put a raw
// descriptor in src/, which test/storage/file-probe.test.ts refuses outside its list.
test("a backup that is not there, or not named, is refused", async () => {
  await expect(run(["restore", "acme", join(dir, "missing.sqlite")])).rejects.toThrow("missing.sqlite does not exist");
  await expect(run(["restore", "acme"])).rejects.toThrow("missing the backup file");
});
