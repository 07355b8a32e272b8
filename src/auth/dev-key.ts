import { randomUUID } from "node:crypto";
import { link, mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type JSONWebKeySet,
  type JWK,
} from "jose";

/** Issuer of dev tokens; trust it only in development. */
export const DEV_ISSUER = "urn:tenantgate:dev";

const KEY_FILE = "dev-signing-key.json";
const ALG = "RS256";

export interface DevKey {
  kid: string;
  privateKey: CryptoKey;
  /** Public half only, to hand to TokenVerifier as localJwks. */
  jwks: JSONWebKeySet;
}

export interface DevTokenClaims {
  sub?: string;
  tenant_id?: string;
  org_id?: string;
  org_name?: string;
  permissions?: string[];
}

/**
 * The dev signing key in `<dataDir>/dev-signing-key.json`, created on first use. It is kept so that
 * dev tokens survive restarts; a new key per start would invalidate every token handed out.
 */
export async function loadDevKey(dataDir: string): Promise<DevKey> {
  const file = join(dataDir, KEY_FILE);
  const stored = (await readKeyFile(file)) ?? (await createKeyFile(dataDir, file));
  return devKeyOf(stored, file);
}

/** A token shaped like the management tokens AuthHero issues, signed with the dev key. */
export async function signDevToken(
  key: DevKey,
  claims: DevTokenClaims,
  opts: { audience: string; ttlSec?: number },
): Promise<string> {
  const ttlSec = opts.ttlSec ?? 3600;
  if (!Number.isInteger(ttlSec) || ttlSec <= 0) throw new TypeError("ttlSec must be a positive integer");
  const permissions = claims.permissions ?? [];
  const payload: Record<string, unknown> = { scope: permissions.join(" "), permissions };
  if (claims.tenant_id !== undefined) payload.tenant_id = claims.tenant_id;
  if (claims.org_id !== undefined) payload.org_id = claims.org_id;
  if (claims.org_name !== undefined) payload.org_name = claims.org_name;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(payload)
    .setProtectedHeader({ alg: ALG, kid: key.kid, typ: "JWT" })
    .setIssuer(DEV_ISSUER)
    .setAudience(opts.audience)
    .setSubject(claims.sub ?? "dev|admin")
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSec)
    .sign(key.privateKey);
}

async function readKeyFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`dev signing key ${file} is not valid JSON; delete it to create a new key`);
  }
}

/** Creates the key file, or returns the one another process created first (the first one wins). */
async function createKeyFile(dataDir: string, file: string): Promise<unknown> {
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty: "RSA", n: jwk.n, e: jwk.e });
  const stored: JWK = { ...jwk, kid, alg: ALG, use: "sig" };

  await mkdir(dataDir, { recursive: true });
  // Write aside, then link into place: a crash mid-write never leaves a half key, and link (unlike
  // rename) fails when the file exists, so two first starts at once agree on one key.
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  try {
    const handle = await open(tmp, "wx", 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(stored, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readKeyFile(file);
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
  return stored;
}

async function devKeyOf(stored: unknown, file: string): Promise<DevKey> {
  const jwk = stored as Partial<JWK> | null;
  if (
    typeof jwk !== "object" ||
    jwk === null ||
    jwk.kty !== "RSA" ||
    typeof jwk.kid !== "string" ||
    typeof jwk.n !== "string" ||
    typeof jwk.e !== "string" ||
    typeof jwk.d !== "string"
  ) {
    throw new Error(`dev signing key ${file} is not a private RSA JWK with a kid; delete it to create a new key`);
  }
  const privateKey = await importJWK({ ...jwk, ext: false }, ALG, { extractable: false });
  if (privateKey instanceof Uint8Array) throw new Error(`dev signing key ${file} is not an RSA key`);
  const publicJwk: JWK = { kty: "RSA", n: jwk.n, e: jwk.e, kid: jwk.kid, alg: ALG, use: "sig" };
  return { kid: jwk.kid, privateKey, jwks: { keys: [publicJwk] } };
}
