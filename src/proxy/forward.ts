import { errorResponse } from "../http-error.ts";
import { limitBody } from "./body-limit.ts";
import { connectionNamed, fetchFailure, forwardingFailure, requestHeaderFate, RESPONSE_DROPPED, upstreamHostHeader, upstreamUrl, type UpstreamOptions } from "./policy.ts";

export { upstreamOptions, type UpstreamOptions } from "./policy.ts";

/** Responses that are the upstream's own (the gateway adds nothing to them but its request id). */
const fromUpstream = new WeakSet<Response>();
export const cameFromUpstream = (response: Response): boolean => fromUpstream.has(response);

export interface Outgoing {
  /** The method the gateway checked; the upstream gets exactly that one. */
  method: string;
  /** A body the gateway already read (to check it); otherwise the request's body streams through. */
  body?: ArrayBuffer;
  /** Largest body that may stream through (413 beyond it). */
  maxBodyBytes: number;
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
 * dropped), bodies stream both ways, compressed bytes pass untouched, redirects go back to the client.
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
  // The upstream cannot answer before it has the body: while a streamed body moves, the clock restarts
  // with each chunk (a slow upload is not an upstream timeout; a stalled one still ends).
  let answered = false;
  const progress = () => {
    if (!answered) timer.refresh();
  };
  const bodiless = out.method === "GET" || out.method === "HEAD" || out.preflight === true;
  const streamed = out.body === undefined && request.body && !bodiless ? limitBody(request.body, out.maxBodyBytes, progress) : undefined;
  try {
    const res = await fetch(target, {
      method: out.method,
      headers,
      body: bodiless ? undefined : (out.body ?? streamed?.body),
      redirect: "manual",
      signal: abort.signal,
      decompress: false,
      duplex: "half",
    } as RequestInit);
    answered = true;
    // The upstream's response goes back itself, its body streamed natively by Bun (wrapping it in a
    // new Response cost ~10% of throughput, bench/proxy.ts); fetch responses' headers are mutable.
    for (const h of [...RESPONSE_DROPPED, ...connectionNamed(res.headers.get("connection"))]) res.headers.delete(h);
    fromUpstream.add(res);
    return res;
  } catch (err) {
    if (streamed?.exceeded()) return errorResponse(...forwardingFailure.bodyTooLarge(out.maxBodyBytes));
    // The clock restarts with each body chunk: a body still owed means the client stopped sending.
    if (abort.signal.aborted && streamed && !streamed.ended()) return errorResponse(...forwardingFailure.bodyStalled(o.timeoutMs));
    if (abort.signal.aborted) return errorResponse(...forwardingFailure.timeout(o.timeoutMs));
    return errorResponse(...fetchFailure((err as { code?: string }).code, o.upstream.origin));
  } finally {
    answered = true;
    clearTimeout(timer);
  }
}
