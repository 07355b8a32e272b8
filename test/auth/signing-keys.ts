// Real key pairs and real signed tokens, as an AuthHero-like issuer would produce them.
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";

export const ISSUER = "https://auth.example.com/";
export const AUDIENCE = "urn:authhero:management";

export type Alg = "RS256" | "ES256" | "EdDSA";

export interface SigningKey {
  alg: Alg;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export async function signingKey(alg: Alg, kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { alg, kid, privateKey, publicKey, publicJwk };
}

export const now = (): number => Math.floor(Date.now() / 1000);

/** A valid management token unless `claims` or `kid` say otherwise; `undefined` claims are dropped. */
export async function token(
  key: SigningKey,
  claims: Record<string, unknown> = {},
  opts: { kid?: string } = {},
): Promise<string> {
  const payload: JWTPayload = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: "client_abc",
    iat: now(),
    exp: now() + 600,
    ...claims,
  };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: opts.kid ?? key.kid }).sign(key.privateKey);
}

export function b64url(value: string | Uint8Array | object): string {
  const bytes =
    typeof value === "string" ? value : value instanceof Uint8Array ? value : JSON.stringify(value);
  return Buffer.from(bytes).toString("base64url");
}
