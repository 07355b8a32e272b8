import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./index.ts";

test("serve verifies tokens: without an issuer (access control on, no --dev) it is refused before anything is written", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tenantgate-serve-"));
  try {
    await expect(runCli(["serve", "--data-dir", dir, "--port", "0"], { env: {} })).rejects.toThrow(
      "issuer: required when access control is on (set --issuer or TENANTGATE_ISSUER to AuthHero's issuer URL)",
    );
    expect(existsSync(join(dir, "tenants"))).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
