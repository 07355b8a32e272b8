import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import bundlePath from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import cssPath from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import type { QueryReferences } from "./query.ts";

// The UI's script and styles come from the installed swagger-ui-dist package (embedded in the
// compiled binary), never from a CDN: a sidecar must work offline and pinned.
const ASSETS = "/docs/assets";

/** `queries`: each route's query schema (routes read their queries themselves, see query.ts). */
export function docs(version: string, queries: QueryReferences) {
  return new Elysia({ name: "tenantgate/docs" })
    .get(`${ASSETS}/swagger-ui-bundle.js`, () => new Response(Bun.file(bundlePath), { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=86400" } }), {
      detail: { hide: true },
    })
    .get(`${ASSETS}/swagger-ui.css`, () => new Response(Bun.file(cssPath), { headers: { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=86400" } }), {
      detail: { hide: true },
    })
    .use(
      openapi({
        path: "/docs",
        specPath: "/docs/json",
        provider: "swagger-ui",
        references: queries as never,
        swagger: { cdn: `${ASSETS}/swagger-ui-bundle.js`, theme: `${ASSETS}/swagger-ui.css`, version: "local" } as never,
        documentation: {
          info: {
            title: "tenantgate",
            version,
            description:
              "Multi-tenancy gateway for AuthHero. The tenants API answers on the control-plane host; every other request is proxied to AuthHero for the tenant its host names.",
          },
          tags: [
            { name: "tenants", description: "Provision, inspect and deprovision tenants" },
            { name: "sync", description: "The outbox that copies control-plane entities into every tenant" },
            { name: "operations", description: "Health, readiness and metrics" },
          ],
          components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
        },
      }),
    );
}
