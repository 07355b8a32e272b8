import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { cliInProcess } from "../../test/support/cli-in-process.ts";

const { dir, run } = cliInProcess("tenantgate-backup-");

test("a checked snapshot, never over an existing file", async () => {
  expect((await run(["tenants", "create", "acme"])).code).toBe(0);
  const file = join(dir, "backups", "acme.sqlite");
  const made = await run(["backup", "acme", file]);
  expect(made.lines[0]).toMatch(/^backed up acme to .+ \(\d+ bytes, integrity ok\)$/);
  expect(existsSync(`${file}.partial`)).toBe(false);
  await expect(run(["backup", "acme", file])).rejects.toThrow("already exists; choose a new file");
});

test("backup names what it lacks or refuses", async () => {
  await expect(run(["backup"])).rejects.toThrow("missing the tenant id");
  await expect(run(["backup", "acme"])).rejects.toThrow("missing the backup file");
  await expect(run(["backup", "Bad_Name", join(dir, "x.sqlite")])).rejects.toThrow('"Bad_Name" is not a valid tenant id');
  await expect(run(["backup", "nope", join(dir, "nope.sqlite")])).rejects.toThrow('tenant "nope" has no database to back up (no file in the data directory');
});
