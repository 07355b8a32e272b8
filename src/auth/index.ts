// Bearer tokens in, principals out: verification against the upstream's JWKS (plus the dev key),
// the tenant rule that says which tenant a token may manage, and the access check.
export { TokenVerifier, type TokenVerifierOptions } from "./verify.ts";
export { verifierFor } from "./gateway-verifier.ts";
export { principalOf, type OrgDirectory, type Principal, type PrincipalContext } from "./principal.ts";
export { authorize, bearerToken } from "./access.ts";
export { DEV_ISSUER, loadDevKey, signDevToken, type DevKey, type DevTokenClaims } from "./dev-key.ts";
export { TokenCache, tokenKey } from "./token-cache.ts";
