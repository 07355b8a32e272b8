import { decodeProtectedHeader, errors, type JWTPayload } from "jose";
import { HttpError } from "../http-error.ts";

/**
 * Turns jose's verdict into a 401 that tells the client what is wrong with its token. Values that
 * came from the token are quoted and truncated: they are attacker-controlled text in our messages.
 */
export function refusal(err: unknown, token: string, audience: string): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof errors.JWTExpired) {
    return unauthorized(`token expired at ${isoDate(err.payload.exp)}`);
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    return unauthorized(claimProblem(err.claim, err.reason, err.payload, audience));
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return unauthorized(`token algorithm ${printable(headerOf(token)?.alg)} is not allowed`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return unauthorized("token signature is invalid");
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    const header = headerOf(token);
    return unauthorized(
      header?.kid === undefined
        ? `token has no kid and no key in the JWKS fits its algorithm ${printable(header?.alg)}`
        : `no key with kid ${printable(header.kid)} in the JWKS`,
    );
  }
  if (err instanceof errors.JWKSMultipleMatchingKeys) {
    return unauthorized("token has no kid and several keys in the JWKS could have signed it");
  }
  if (
    err instanceof errors.JWSInvalid ||
    err instanceof errors.JWTInvalid ||
    err instanceof errors.JOSENotSupported ||
    err instanceof errors.JWKInvalid
  ) {
    return unauthorized(`token is malformed (${err.message})`);
  }
  // Fail closed on anything unforeseen, without leaking a stack trace.
  return unauthorized(`token could not be verified (${err instanceof Error ? err.message : String(err)})`);
}

function claimProblem(claim: string, reason: string, payload: JWTPayload, audience: string): string {
  if (reason === "missing") return `token claim ${claim} is missing`;
  if (reason === "invalid") return `token claim ${claim} is invalid`;
  switch (claim) {
    case "iss":
      return `token issuer ${show(payload.iss)} is not trusted`;
    case "aud":
      return `token audience ${show(payload.aud)} does not include ${show(audience)}`;
    case "nbf":
      return `token is not valid before ${isoDate(payload.nbf)}`;
    default:
      return `token claim ${claim} is not acceptable`;
  }
}

function headerOf(token: string): { alg?: unknown; kid?: unknown } | undefined {
  try {
    return decodeProtectedHeader(token);
  } catch {
    return undefined;
  }
}

function isoDate(seconds: unknown): string {
  return typeof seconds === "number" && Number.isFinite(seconds)
    ? new Date(seconds * 1000).toISOString()
    : show(seconds);
}

/** Plain identifiers (algorithms, kids) as they are; anything stranger quoted and truncated. */
function printable(value: unknown): string {
  return typeof value === "string" && /^[\w.:+-]{1,64}$/.test(value) ? value : show(value);
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

function unauthorized(message: string): HttpError {
  return new HttpError(401, message);
}
