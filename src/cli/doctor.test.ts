import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./index.ts";

const dir = mkdtempSync(join(tmpdir(), "tenantgate-doctor-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = async (argv: string[]) => {
  const lines: string[] = [];
  const code = await runCli([...argv, "--data-dir", dir], { out: (line) => void lines.push(line), env: {} });
  return { code, lines };
};

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
