import { errorResponse } from "../http-error.ts";
import { limitBody } from "./body-limit.ts";

/** Where requests go, read once from `--upstream`. */
export function upstreamOptions(url: string, timeoutMs: number): UpstreamOptions {
  const upstream = new URL(url);
  return { upstream, basePath: upstream.pathname.replace(/\/+$/, ""), timeoutMs };
}

export interface UpstreamOptions {
  upstream: URL;
  /** The upstream's base path without its trailing slash (`http://authhero:3000/auth` → `/auth`). */
  basePath: string;
  /** Time allowed until the upstream's response headers arrive. */
  timeoutMs: number;
}

export const HOP_BY_HOP = ["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authorization", "proxy-authenticate", "proxy-connection"];
/** Headers that ask a server to treat the request as another method: never passed on (see protect-synced.ts). */
export const METHOD_OVERRIDES = ["x-http-method-override", "x-http-method", "x-method-override"];

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
  // Concatenated, never resolved against the upstream: a path like `//evil.example.com/x` is a
  // network-path reference and would replace the upstream's host. An upstream mounted under a base
  // path (`http://authhero:3000/auth`) keeps it.
  const target = new URL(o.upstream.origin + o.basePath + incoming.pathname + incoming.search);
  const headers = new Headers(request.headers);
  for (const h of [...hopByHop(headers), ...METHOD_OVERRIDES, "host", "tenant-id", "x-tenant-id"]) headers.delete(h);
  headers.set("tenant-id", tenant);
  headers.set("x-forwarded-host", forwarded.host ?? request.headers.get("host") ?? incoming.host);
  headers.set("x-forwarded-proto", forwarded.proto ?? incoming.protocol.replace(":", ""));
  headers.delete("x-forwarded-for");
  const chain = [forwarded.for, clientIp].filter((v) => v !== undefined && v !== "");
  if (chain.length > 0) headers.set("x-forwarded-for", chain.join(", "));

  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), o.timeoutMs);
  // The upstream cannot answer before it has the body: while a streamed body moves, the clock restarts
  // with each chunk (a slow upload is not an upstream timeout; a stalled one still ends).
  let answered = false;
  const progress = () => {
    if (!answered) timer.refresh();
  };
  const streamed = out.body === undefined && request.body && out.method !== "GET" && out.method !== "HEAD" ? limitBody(request.body, out.maxBodyBytes, progress) : undefined;
  try {
    const res = await fetch(target, {
      method: out.method,
      headers,
      body: out.method === "GET" || out.method === "HEAD" ? undefined : (out.body ?? streamed?.body),
      redirect: "manual",
      signal: abort.signal,
      decompress: false,
      duplex: "half",
    } as RequestInit);
    answered = true;
    // The upstream's response goes back itself, its body streamed natively by Bun (wrapping it in a
    // new Response cost ~10% of throughput, bench/proxy.ts); fetch responses' headers are mutable.
    for (const h of hopByHop(res.headers)) res.headers.delete(h);
    return res;
  } catch (err) {
    if (streamed?.exceeded()) return errorResponse(413, `request body is over the limit of ${out.maxBodyBytes} bytes`);
    // The clock restarts with each body chunk: a body still owed means the client stopped sending.
    if (abort.signal.aborted && streamed && !streamed.ended()) return errorResponse(408, `the request body stopped arriving: nothing for ${o.timeoutMs} ms`);
    if (abort.signal.aborted) return errorResponse(504, `the upstream did not answer within ${o.timeoutMs} ms`);
    return errorResponse(502, `the upstream at ${o.upstream.origin} cannot be reached (${(err as { code?: string }).code ?? "connection failed"})`);
  } finally {
    answered = true;
    clearTimeout(timer);
  }
}

/** The standard hop-by-hop headers and those a message's own `Connection` header names (both directions). */
function hopByHop(headers: Headers): string[] {
  const named = headers.get("connection")?.split(",").map((h) => h.trim().toLowerCase()).filter((h) => h !== "") ?? [];
  return [...HOP_BY_HOP, ...named];
}
