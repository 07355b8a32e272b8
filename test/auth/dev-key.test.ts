import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { HttpError } from "../../src/http-error.ts";
import { authorize, DEV_ISSUER, loadDevKey, principalOf, signDevToken, TokenVerifier } from "../../src/auth/index.ts";

const AUDIENCE = "urn:authhero:management";
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tenantgate-devkey-"));
  dirs.push(dir);
  return dir;
}

describe("dev key", () => {
  test("is created once with mode 600 and reused", async () => {
    const dataDir = join(await tempDir(), "nested", "data");
    const first = await loadDevKey(dataDir);
    const file = join(dataDir, "dev-signing-key.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dataDir)).toEqual(["dev-signing-key.json"]); // no temp file left behind

    const second = await loadDevKey(dataDir);
    expect(second.kid).toBe(first.kid);
    expect(second.jwks).toEqual(first.jwks);
    // A token signed by one load verifies with the other's public keys: it really is the same key.
    const t = await signDevToken(first, {}, { audience: AUDIENCE });
    const v = new TokenVerifier({ localJwks: second.jwks, issuers: [DEV_ISSUER], audience: AUDIENCE });
    expect((await v.verify(t)).sub).toBe("dev|admin");
  });

  test("publishes only the public half", async () => {
    const key = await loadDevKey(await tempDir());
    expect(key.jwks.keys).toHaveLength(1);
    const [jwk] = key.jwks.keys;
    expect(jwk).toMatchObject({ kty: "RSA", kid: key.kid, alg: "RS256", use: "sig" });
    for (const secret of ["d", "p", "q", "dp", "dq", "qi"]) expect(jwk).not.toHaveProperty(secret);
    expect(key.privateKey.extractable).toBe(false);
  });

  test("a corrupt key file is an error naming the file, not a silent new key", async () => {
    const dataDir = await tempDir();
    await writeFile(join(dataDir, "dev-signing-key.json"), '{"kty":"RSA"');
    await expect(loadDevKey(dataDir)).rejects.toThrow(join(dataDir, "dev-signing-key.json"));
    await writeFile(join(dataDir, "dev-signing-key.json"), '{"kty":"EC","kid":"x"}');
    await expect(loadDevKey(dataDir)).rejects.toThrow("not a private RSA JWK");
  });

  test("dev tokens are shaped like AuthHero's and pass the verifier and the tenant rule", async () => {
    const key = await loadDevKey(await tempDir());
    const t = await signDevToken(
      key,
      { sub: "auth2|dev", tenant_id: "control_plane", org_id: "org_x", permissions: ["create:tenants", "read:users"] },
      { audience: AUDIENCE, ttlSec: 600 },
    );
    const claims = decodeJwt(t);
    expect(claims).toMatchObject({
      iss: DEV_ISSUER,
      aud: AUDIENCE,
      sub: "auth2|dev",
      tenant_id: "control_plane",
      org_id: "org_x",
      scope: "create:tenants read:users",
      permissions: ["create:tenants", "read:users"],
    });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(600);
    expect(claims).not.toHaveProperty("org_name");

    const v = new TokenVerifier({ localJwks: key.jwks, issuers: [DEV_ISSUER], audience: AUDIENCE });
    const p = await principalOf(await v.verify(t), {
      controlPlane: "control_plane",
      orgs: { tenantOfOrg: (id) => (id === "org_x" ? "acme" : undefined) },
      trustOrgName: false,
    });
    expect(p).toMatchObject({ tenant: "acme", via: "organization", isUser: true });
    authorize(p, "acme", { permission: "create:tenants" });
  });

  test("default dev token: dev|admin, one hour, no permissions", async () => {
    const key = await loadDevKey(await tempDir());
    const claims = decodeJwt(await signDevToken(key, {}, { audience: AUDIENCE }));
    expect(claims.sub).toBe("dev|admin");
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(3600);
    expect(claims.permissions).toEqual([]);
    expect(claims).not.toHaveProperty("tenant_id");
  });

  test("a dev token for another audience or issuer set is refused", async () => {
    const key = await loadDevKey(await tempDir());
    const t = await signDevToken(key, {}, { audience: "urn:elsewhere" });
    const v = new TokenVerifier({ localJwks: key.jwks, issuers: [DEV_ISSUER], audience: AUDIENCE });
    const err = await v.verify(t).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(401);
    expect((err as HttpError).message).toContain("token audience");

    const strict = new TokenVerifier({ localJwks: key.jwks, issuers: ["https://auth.example.com/"], audience: AUDIENCE });
    const err2 = await strict.verify(await signDevToken(key, {}, { audience: AUDIENCE })).catch((e: unknown) => e);
    expect((err2 as HttpError).message).toBe(`token issuer "${DEV_ISSUER}" is not trusted`);
  });

  test("ttlSec must be a positive integer", async () => {
    const key = await loadDevKey(await tempDir());
    await expect(signDevToken(key, {}, { audience: AUDIENCE, ttlSec: 0 })).rejects.toThrow("ttlSec");
    await expect(signDevToken(key, {}, { audience: AUDIENCE, ttlSec: 1.5 })).rejects.toThrow("ttlSec");
  });
});

test("processes creating the dev key at the same time agree on one key", async () => {
  const dir = mkdtempSync(join(tmpdir(), "devkey-race-"));
  try {
    const procs = Array.from({ length: 6 }, () =>
      Bun.spawn([process.execPath, "-e", `import { loadDevKey } from "${join(import.meta.dir, "../../src/auth/dev-key.ts")}"; console.log((await loadDevKey(${JSON.stringify(dir)})).kid)`], {
        stdout: "pipe",
        stderr: "inherit",
      }),
    );
    const kids = await Promise.all(procs.map(async (p) => (await new Response(p.stdout).text()).trim()));
    const onDisk = (await loadDevKey(dir)).kid;
    expect(new Set(kids)).toEqual(new Set([onDisk]));
    expect(readdirSync(dir)).toEqual(["dev-signing-key.json"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
