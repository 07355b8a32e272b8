import type { TokensConfig } from "../config/index.ts";
import { DEV_ISSUER, loadDevKey } from "./dev-key.ts";
import { TokenVerifier } from "./verify.ts";

/**
 * The token check a gateway runs: AuthHero's keys (jwksUrl) and issuers, each tenant's own issuer,
 * and with --dev the data directory's dev key and issuer besides.
 */
export async function verifierFor(tokens: TokensConfig, customDomainTenant: (host: string) => string | undefined): Promise<TokenVerifier> {
  const devKey = tokens.dev ? await loadDevKey(tokens.dataDir) : undefined;
  return new TokenVerifier({
    jwksUrl: tokens.jwksUrl,
    localJwks: devKey?.jwks,
    issuers: devKey ? [...tokens.issuer, DEV_ISSUER] : tokens.issuer,
    tenantIssuer: tokens.tenantIssuer,
    customDomainTenant,
    audience: tokens.audience,
  });
}
