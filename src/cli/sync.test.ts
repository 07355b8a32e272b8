import { expect, test } from "bun:test";
import { cliInProcess } from "../../test/support/cli-in-process.ts";

const { run } = cliInProcess("tenantgate-sync-");

test("status: the head and each tenant's cursor; reconcile one tenant or --all", async () => {
  expect((await run(["tenants", "create", "acme"])).code).toBe(0);
  const status = await run(["sync", "status"]);
  expect(status.code).toBe(0);
  expect(status.lines[0]).toMatch(/^head \d+: 1 in sync, 0 lagging, 0 failing, 0 unavailable$/);
  expect(status.lines[1]).toMatch(/^acme\tin_sync\tcursor \d+\tlag 0\tconflicts 0$/);
  expect((await run(["sync", "reconcile", "acme"])).lines).toEqual([expect.stringMatching(/^acme: 0 copies repaired, 0 conflicts, cursor \d+$/)]);
  expect((await run(["sync", "reconcile", "--all"])).lines).toEqual(["1 of 1 tenants reconciled; 0 copies repaired"]);
});

test("reconcile needs a tenant that exists, or --all; an unknown subcommand is refused", async () => {
  await expect(run(["sync", "reconcile"])).rejects.toThrow("name a tenant or pass --all");
  await expect(run(["sync", "reconcile", "nope"])).rejects.toThrow('tenant "nope" does not exist');
  await expect(run(["sync", "frobnicate"])).rejects.toThrow('unknown sync subcommand "frobnicate"');
});
