import { errorResponse } from "../http-error.ts";
import type { BodyBuffer } from "./body-buffer.ts";
import { bodyForwarded, connectionNamed, fetchFailure, forwardingFailure, requestHeaderFate, RESPONSE_DROPPED, upstreamHostHeader, upstreamUrl, type UpstreamOptions } from "./policy.ts";

export { upstreamOptions, type UpstreamOptions } from "./policy.ts";

/** Responses that are the upstream's own (the gateway adds nothing to them but its request id). */
const fromUpstream = new WeakSet<Response>();
export const cameFromUpstream = (response: Response): boolean => fromUpstream.has(response);

export interface Outgoing {
  /** The method the gateway checked; the upstream gets exactly that one. */
  method: string;
  /** The request's body, whole (read-body.ts); the caller disposes of it. */
  body?: BodyBuffer;
  /**
   * What a trusted proxy says about the client (its X-Forwarded-Host/Proto/For). Without it: our
   * Host and scheme, and a For chain that starts at our peer (a client's own chain is not believed).
   */
  forwarded: { host?: string; proto?: string; for?: string };
  /** A CORS preflight (policy.ts): forwarded with no body. */
  preflight?: boolean;
}

/**
 * Sends a request to AuthHero for `tenant`: the gateway alone sets `tenant-id` (client values are
 * dropped), the request's body goes whole with its length, the response streams back, compressed
 * bytes pass untouched, redirects go back to the client. A client that goes away aborts it.
 */
export async function forwardToUpstream(
  request: Request,
  incoming: URL,
  tenant: string,
  clientIp: string | undefined,
  o: UpstreamOptions,
  out: Outgoing,
): Promise<Response> {
  const { forwarded } = out;
  const target = upstreamUrl(o, incoming.pathname, incoming.search);
  const named = new Set(connectionNamed(request.headers.get("connection")));
  const headers = new Headers();
  for (const [name, value] of request.headers) {
    // Framing is fetch's own: it sends the body with its own Content-Length or chunks.
    if (requestHeaderFate(name) === "keep" && !named.has(name) && !(out.preflight && name === "authorization")) headers.append(name, value);
  }
  headers.set("tenant-id", tenant);
  const publicHost = forwarded.host ?? request.headers.get("host") ?? incoming.host;
  headers.set("host", upstreamHostHeader(target.host, publicHost, o.preserveHost === true));
  headers.set("x-forwarded-host", publicHost);
  headers.set("x-forwarded-proto", forwarded.proto ?? incoming.protocol.replace(":", ""));
  const chain = [forwarded.for, clientIp].filter((v) => v !== undefined && v !== "");
  if (chain.length > 0) headers.set("x-forwarded-for", chain.join(", "));
  const x = request.headers.get("x-request-id");
  if (x !== null) headers.set("x-request-id", x);

  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), o.timeoutMs);
  // The client gone, its upstream request goes too (the connection to AuthHero is not held for nobody).
  const gone = () => abort.abort();
  request.signal.addEventListener("abort", gone);
  // Once fetch has settled, a refreshed timer would abort the response still streaming back.
  let settled = false;
  const progress = () => {
    if (!settled) timer.refresh();
  };
  const body = bodyForwarded(out.method, out.preflight === true) ? out.body : undefined;
  // A body in a file goes as a stream of it; fetch then frames it by the length set here.
  if (body?.inFile) headers.set("content-length", String(body.size));
  try {
    const res = await fetch(target, {
      method: out.method,
      headers,
      // The upstream cannot answer before it has the body: while it takes it, the clock restarts.
      body: body && (body.bytes ?? body.stream(progress)),
      redirect: "manual",
      signal: abort.signal,
      decompress: false,
      duplex: "half",
    } as RequestInit);
    // The upstream's response goes back itself, its body streamed natively by Bun (wrapping it in a
    // new Response cost ~10% of throughput, bench/proxy.ts); fetch responses' headers are mutable.
    for (const h of [...RESPONSE_DROPPED, ...connectionNamed(res.headers.get("connection"))]) res.headers.delete(h);
    fromUpstream.add(res);
    return res;
  } catch (err) {
    if (request.signal.aborted) return errorResponse(...forwardingFailure.clientGone());
    if (abort.signal.aborted) return errorResponse(...forwardingFailure.timeout(o.timeoutMs));
    return errorResponse(...fetchFailure((err as { code?: string }).code, o.upstream.origin));
  } finally {
    settled = true;
    request.signal.removeEventListener("abort", gone);
    clearTimeout(timer);
  }
}
