import { Elysia } from "elysia";
import { HttpError } from "../http-error.ts";

export interface GateOptions {
  /** Path prefixes of the gateway's own APIs (`/api/v2/tenants`, `/api/v2/sync`). */
  prefixes: readonly string[];
  onControlPlaneHost: (request: Request) => Promise<boolean>;
  forward: (request: Request) => Promise<Response>;
  /** The gateway's APIs take small JSON bodies, read whole by Elysia: bounded before it does. */
  maxBodyBytes: number;
}

/**
 * The gateway's own APIs answer on the control-plane host only; on any other host the same path is
 * AuthHero's. Decided before routing, so such a request reaches AuthHero untouched: a route-level
 * hook would run after Elysia has parsed and validated (and consumed) the body and the query.
 */
export function controlPlaneGate(o: GateOptions) {
  const owns = (path: string) => o.prefixes.some((p) => path === p || path.startsWith(`${p}/`));
  return new Elysia({ name: "tenantgate/control-plane-gate" }).onRequest(async ({ request }) => {
    if (!o.prefixes.some((p) => request.url.includes(p)) || !owns(new URL(request.url).pathname)) return;
    if (!(await o.onControlPlaneHost(request))) return o.forward(request);
    if (request.body) {
      const declared = request.headers.get("content-length");
      if (declared === null) throw new HttpError(411, "the gateway's API needs a Content-Length on requests with a body");
      if (Number(declared) > o.maxBodyBytes) throw new HttpError(413, `request body of ${declared} bytes is over the gateway API's limit of ${o.maxBodyBytes}`);
    }
  });
}
