import type { ForwardingConfig } from "../config/index.ts";
import { HttpError } from "../http-error.ts";

/**
 * The forwarding policy: what may be forwarded to AuthHero and how. Both transports obey it: the
 * front door (raw sockets, src/front/) and the fetch path (Bun.serve and fetch, forward.ts). Neither
 * keeps a rule of its own; what one transport cannot judge it hands to the other.
 */

/** The methods the gateway forwards. Any other (CONNECT, TRACE, extension methods) is refused before routing. */
export const FORWARDED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
const FORWARDED = new Set<string>(FORWARDED_METHODS);

/**
 * The largest request head (request line, header lines and the blank line), in bytes. It is
 * Bun.serve's own limit, so the front door and the fetch path refuse (431) at the same size; a
 * head is never cut to fit.
 */
export const MAX_HEAD_BYTES = 16 * 1024;

/**
 * The largest body the gateway parses to check a create in a child tenant against the synced
 * entities' unique keys (a role, resource server or connection: a few KB in practice).
 */
export const CHECKED_BODY_BYTES = 1024 * 1024;

/** Hop-by-hop headers (RFC 9110 §7.6.1), in both directions, with those a message's `Connection` names. */
export const HOP_BY_HOP = ["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authorization", "proxy-authenticate", "proxy-connection"];
/** Headers that ask a server to treat the request as another method: never passed on (see protect-synced.ts). */
export const METHOD_OVERRIDES = ["x-http-method-override", "x-http-method", "x-method-override"];
/** Request headers only the gateway writes: a client's are dropped, the gateway sets its own. */
export const GATEWAY_SET = ["host", "tenant-id", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-request-id"];
/**
 * Request headers that say where a request came from or which tenant it is for, dropped whatever
 * the peer: the gateway states these facts itself (GATEWAY_SET), from a trusted proxy's word at most.
 */
export const CLIENT_CLAIMS = ["x-tenant-id", "forwarded", "x-forwarded-port", "x-forwarded-prefix", "x-forwarded-server", "x-forwarded-ssl", "x-forwarded-scheme", "x-real-ip", "x-original-url", "x-rewrite-url"];

const OWNED = new Set([...HOP_BY_HOP, ...METHOD_OVERRIDES, ...GATEWAY_SET, ...CLIENT_CLAIMS, "content-length"]);

/**
 * What becomes of a request header. Names are compared as some upstream stacks read them (case,
 * `_` and `.` alike to `-`), so `tenant_id` or `X.Forwarded.For` is dropped like the real one.
 * - `keep`: passed on as the client sent it.
 * - `drop`: not passed on (the gateway may set its own).
 * - `framing`: `content-length` and `transfer-encoding` spelled exactly: the transport frames the body.
 * - `override`: a method override spelled exactly: the synced-entity guard reads it, then it is dropped.
 */
export function requestHeaderFate(name: string): "keep" | "drop" | "framing" | "override" {
  const lower = name.toLowerCase();
  const normal = lower.replace(/[_.]/g, "-");
  if (!OWNED.has(normal)) return "keep";
  if (lower !== normal) return "drop";
  if (lower === "content-length" || lower === "transfer-encoding") return "framing";
  if (METHOD_OVERRIDES.includes(lower)) return "override";
  return "drop";
}

/**
 * The Host the upstream is sent: its own address, or with `preserveHost` the public host the client
 * used (as a trusted proxy states it, else the request's own), so that what AuthHero builds from
 * Host (the login session's URL, a social login's way back, cookies, WebAuthn) names the public URL.
 */
export function upstreamHostHeader(upstreamHost: string, publicHost: string | null | undefined, preserveHost: boolean): string {
  return preserveHost && publicHost ? publicHost : upstreamHost;
}

/** Response headers the gateway does not pass to the client: hop-by-hop ones, and `x-request-id` (it sets its own). */
export const RESPONSE_DROPPED = [...HOP_BY_HOP, "x-request-id"];

/** Headers a `Connection` header names, which are hop-by-hop for that message. */
export function connectionNamed(value: string | null | undefined): string[] {
  if (!value) return [];
  return value
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== "" && h !== "close" && h !== "keep-alive");
}

/** Refuses, before routing, a method the gateway does not forward. */
export function checkMethod(method: string): void {
  if (!FORWARDED.has(method)) throw new HttpError(405, `the gateway does not forward ${method} requests`, { allow: FORWARDED_METHODS.join(", ") });
}

/**
 * A CORS preflight, which passes the access rule without a token: `OPTIONS` with `Origin` and
 * `Access-Control-Request-Method`, and nothing a preflight never has (a body, credentials). Anything
 * else is an ordinary OPTIONS request and needs a token like any other.
 */
export function isPreflight(method: string, headers: Headers): boolean {
  return method === "OPTIONS" && headers.has("origin") && headers.has("access-control-request-method") && !headers.has("authorization") && !declaresBody(headers);
}

/**
 * Request bodies are buffered: every forwarded body arrives whole before an upstream connection is
 * taken, on either transport, in memory up to --body-buffer-bytes and in a temporary file beyond
 * (body-buffer.ts), and goes to the upstream with its Content-Length. A slow upload then holds none
 * of the connections other clients need (nginx's proxy_request_buffering). The gateway forwards no
 * protocol switch (Upgrade is hop-by-hop, dropped) and no request that needs its body streamed.
 */
export function bodyForwarded(method: string, preflight: boolean): boolean {
  return method !== "GET" && method !== "HEAD" && !preflight;
}

/** Whether a request's head says a body follows (a length above zero, or chunks). */
export function declaresBody(headers: Headers): boolean {
  return Number(headers.get("content-length") ?? 0) > 0 || headers.has("transfer-encoding");
}

/** Where requests go: the configured upstream, its base path, and how long it may take to answer. */
export interface UpstreamOptions {
  upstream: URL;
  /** The upstream's base path without its trailing slash (`http://authhero:3000/auth` → `/auth`). */
  basePath: string;
  /** Time allowed until the upstream's response headers arrive. */
  timeoutMs: number;
  /** Send the upstream the public Host (see upstreamHostHeader). */
  preserveHost?: boolean;
}

export function upstreamOptions(forwarding: ForwardingConfig): UpstreamOptions {
  const upstream = new URL(forwarding.upstream);
  return { upstream, basePath: upstream.pathname.replace(/\/+$/, ""), timeoutMs: forwarding.upstreamTimeoutMs, preserveHost: forwarding.preserveHost };
}

/**
 * The upstream URL for a request's path and query: the configured upstream's URL with its path
 * replaced, never a string put together, so no path can name another host (`//evil.example/x`,
 * `x:@host:port/`). A path that is not origin-form is refused (400); the result's origin is the
 * upstream's or this throws.
 */
export function upstreamUrl(o: UpstreamOptions, pathname: string, search: string): URL {
  if (!pathname.startsWith("/")) throw new HttpError(400, "the request target must be a path (origin-form)");
  const url = new URL(o.upstream.href);
  url.pathname = o.basePath + pathname;
  url.search = search;
  if (url.origin !== o.upstream.origin) throw new Error(`upstream URL for ${JSON.stringify(pathname)} left the upstream's origin`);
  return url;
}

/**
 * The same rule for a transport that writes the request line itself (the front door): the base
 * path, then the client's origin-form target. In a request line a path is always a path, so no URL
 * is built (it cost about 1.4 µs a request); a target that is not origin-form still throws.
 */
export function upstreamRequestTarget(basePath: string, target: string): string {
  if (!target.startsWith("/")) throw new HttpError(400, "the request target must be a path (origin-form)");
  return basePath + target;
}

/**
 * Management collections that are the control plane's alone, refused on a child tenant's host. The
 * signing keys: AuthHero keeps one set for every tenant (its default signing-key mode; the AuthHero
 * module serves them from the control-plane file), and `/api/v2/keys` answers them with their
 * private keys and rotates or revokes them, so a tenant's admin could sign any tenant's tokens or
 * revoke the key every tenant signs with.
 */
const CONTROL_PLANE_COLLECTIONS = new Map([["keys", "the signing keys every tenant's tokens are signed with"]]);

/** The control-plane collection a management path names (its readings below the management prefix), if any. */
export function controlPlaneCollection(below: readonly string[][]): string | undefined {
  for (const [first] of below) {
    const collection = first?.toLowerCase();
    if (collection !== undefined && CONTROL_PLANE_COLLECTIONS.has(collection)) return collection;
  }
  return undefined;
}

/** A child tenant's request for a control-plane collection, refused. */
export function controlPlaneCollectionRefusal(collection: string, tenant: string): readonly [number, string] {
  return [403, `"${collection}" is the control plane's (${CONTROL_PLANE_COLLECTIONS.get(collection)}): tenant "${tenant}" can neither read nor change it; manage it on the control plane`];
}

/** The gateway's answers when forwarding fails: the same status and words whichever transport fails. */
export const forwardingFailure = {
  timeout: (ms: number) => [504, `the upstream did not answer within ${ms} ms`] as const,
  bodyStalled: (ms: number) => [408, `the request body stopped arriving: nothing for ${ms} ms`] as const,
  headStalled: (seconds: number) => [408, `the request head did not arrive within ${seconds} s`] as const,
  unreachable: (where: string, code: string) => [502, `the upstream at ${where} cannot be reached (${code})`] as const,
  closed: (where: string) => [502, `the upstream at ${where} closed the connection without answering`] as const,
  bodyTooLarge: (max: number) => [413, `request body is over the limit of ${max} bytes`] as const,
  declaredTooLarge: (length: number, max: number) => [413, `request body of ${length} bytes is over the limit of ${max}`] as const,
  checkedTooLarge: (length: number, max: number) =>
    [413, `request body of ${length} bytes is over the limit of ${max} for a create the gateway checks against the synced entities; send a smaller body`] as const,
  malformed: () => [502, "the upstream's answer is not valid HTTP"] as const,
  /** Recorded (access log, metrics) for a request its client left before the answer, as nginx records it; nobody reads the answer. */
  clientGone: () => [499, "the client closed the connection before the answer"] as const,
  bodyNotStored: (code: string) => [503, `the gateway could not store the request body (${code})`] as const,
};

/** fetch's error codes for an answer that is not HTTP, and for a connection that ended without one. */
const MALFORMED_CODES = /^(Malformed|Invalid|Unexpected|Response)/i;
const CLOSED_CODES = new Set(["ECONNRESET", "ConnectionClosed", "EPIPE", "ERR_SOCKET_CLOSED"]);

/** The failure answer for a fetch error, as the front door gives it for the same event. */
export function fetchFailure(code: string | undefined, where: string): readonly [number, string] {
  if (code !== undefined && MALFORMED_CODES.test(code)) return forwardingFailure.malformed();
  if (code !== undefined && CLOSED_CODES.has(code)) return forwardingFailure.closed(where);
  return forwardingFailure.unreachable(where, code ?? "connection failed");
}

/** What a body-carrying response without a Content-Type is sent as (Bun.serve adds it; RFC 9110 §8.3 lets a recipient assume it). */
export const UNTYPED_BODY = "application/octet-stream";
