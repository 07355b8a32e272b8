/**
 * The public URL a request came in on, as tenantgate forwards it (`X-Forwarded-Proto`,
 * `X-Forwarded-Host`, which the gateway sets itself and never passes from a client): what an
 * AuthHero host gives as `env.ISSUER` per request, so that a tenant's discovery document, its
 * endpoints and the `iss` of its tokens name the URL clients use (`http://acme.localhost:8080/`).
 * Only tenantgate must be able to reach the host's listener; without the headers: `fallback`.
 */
export function publicIssuer(request: Request, fallback: string): string {
  const host = request.headers.get("x-forwarded-host");
  const proto = request.headers.get("x-forwarded-proto");
  if (!host || !/^[a-z0-9.-]+(?::\d{1,5})?$/i.test(host) || (proto !== "http" && proto !== "https")) return fallback;
  return `${proto}://${host.toLowerCase()}/`;
}
