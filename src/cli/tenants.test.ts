import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./index.ts";

const dir = mkdtempSync(join(tmpdir(), "tenantgate-tenants-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// No issuer and no --dev: the tenants commands verify no token.
const tenants = async (...args: string[]) => {
  const lines: string[] = [];
  const code = await runCli(["tenants", ...args, "--data-dir", dir], { out: (line) => void lines.push(line), env: {} });
  return { code, lines };
};

test("create, list, delete; --no-purge keeps the file in the trash", async () => {
  expect((await tenants("create", "acme", "--friendly-name", "Acme Corp")).lines[0]).toMatch(/^created acme \(organization org_\w+, operation op_\w+\)$/);
  expect((await tenants("create", "beta")).code).toBe(0);
  const list = await tenants("list");
  // id, state, organization, friendly name
  expect(list.lines.slice(0, -1).map((l) => l.split("\t").filter((_, i) => i !== 2).join("\t")).sort()).toEqual(["acme\tready\tAcme Corp", "beta\tready\tbeta"]);
  expect(list.lines.at(-1)).toBe("2 tenant(s)");
  const kept = await tenants("delete", "beta", "--no-purge");
  expect(kept.lines[0]).toStartWith("deleted beta (operation op_");
  expect(kept.lines[0]).not.toContain("purged");
  expect(existsSync(join(dir, "tenants", "beta.sqlite"))).toBe(false);
  expect((await tenants("list")).lines.at(-1)).toBe("1 tenant(s)");
});

test("a missing or unknown subcommand, and delete without an id, are refused", async () => {
  await expect(tenants()).rejects.toThrow("missing a tenants subcommand (list, create, delete); see tenantgate --help");
  await expect(tenants("frobnicate")).rejects.toThrow('unknown tenants subcommand "frobnicate"');
  await expect(tenants("delete")).rejects.toThrow("missing the tenant id");
});
