import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./index.ts";

const dir = mkdtempSync(join(tmpdir(), "tenantgate-token-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1] as string, "base64url").toString()) as Record<string, unknown>;
const token = async (...args: string[]) => {
  const lines: string[] = [];
  expect(await runCli(["token", ...args, "--data-dir", dir], { out: (line) => void lines.push(line), env: {} })).toBe(0);
  return claimsOf(lines[0] as string);
};

test("printing a dev token needs neither --dev nor an issuer", async () => {
  expect(await token()).toMatchObject({ tenant_id: "control_plane", iss: "urn:tenantgate:dev", aud: "urn:authhero:management", permissions: ["create:tenants", "read:tenants", "update:tenants", "delete:tenants"] });
  expect(await token("--tenant", "acme", "--sub", "auth0|42", "--permissions", "read:tenants, ,update:tenants")).toMatchObject({ tenant_id: "acme", sub: "auth0|42", permissions: ["read:tenants", "update:tenants"] });
  expect(await token("--audience", "urn:other")).toMatchObject({ aud: "urn:other" });
});

test("--org of a tenant without an organization fails, naming it", async () => {
  await expect(token("--org", "nope")).rejects.toThrow('tenant "nope" has no organization on the control plane');
});
