import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { cliInProcess } from "../../test/support/cli-in-process.ts";

const { dir, run } = cliInProcess("tenantgate-doctor-");

test("a data directory without a control plane is a problem, and doctor does not make one", async () => {
  const r = await run(["doctor"]);
  expect(r.code).toBe(1);
  expect(r.lines.join("\n")).toContain("no control plane at");
  expect(existsSync(join(dir, "tenants"))).toBe(false);
});

test("a healthy data directory, checked deep, is exit 0", async () => {
  expect((await run(["tenants", "create", "acme"])).code).toBe(0);
  const r = await run(["doctor", "--deep"]);
  expect(r.lines.at(-1)).toBe("no problems found");
  expect(r.lines).toContain("✓ 1 tenant(s) registered");
  expect(r.code).toBe(0);
});
