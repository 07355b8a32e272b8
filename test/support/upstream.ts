import { expect } from "bun:test";
import { SignJWT } from "jose";
import { connect } from "node:net";
import { DEV_ISSUER, loadDevKey } from "../../src/auth/index.ts";
import type { TestGateway } from "./gateway.ts";

export interface SeenRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A stand-in for AuthHero: records every request and echoes the `tenant-id` header it got. */
export interface UpstreamDouble {
  url: string;
  seen: SeenRequest[];
  /** Requests seen since the last call. */
  take(): SeenRequest[];
  stop(): void;
}

export function startUpstream(): UpstreamDouble {
  const seen: SeenRequest[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const headers = Object.fromEntries(request.headers);
      const body = await request.text();
      seen.push({ method: request.method, path: url.pathname + url.search, headers, body });
      return Response.json(
        { upstream: true, tenant: request.headers.get("tenant-id"), method: request.method, path: url.pathname + url.search, body },
        { headers: { "x-upstream": "double" } },
      );
    },
  });
  return recording(server, seen);
}

/** What a recording double offers over its server and the list it records into. */
export function recording<T>(server: { port?: number; stop(force?: boolean): unknown }, seen: T[]): { url: string; port: number; seen: T[]; take(): T[]; stop(): void } {
  let mark = 0;
  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port as number,
    seen,
    take() {
      const out = seen.slice(mark);
      mark = seen.length;
      return out;
    },
    stop: () => void server.stop(true),
  };
}

export interface ErrorJson {
  statusCode: number;
  error: string;
  message: string;
}

/** Asserts an Auth0-style error: exact status, exact shape, and every fragment in the message. */
export async function expectError(res: Response, status: number, ...fragments: (string | RegExp)[]): Promise<ErrorJson> {
  const text = await res.text();
  let body: ErrorJson;
  try {
    body = JSON.parse(text) as ErrorJson;
  } catch {
    throw new Error(`expected a JSON error ${status}, got ${res.status}: ${text.slice(0, 300)}`);
  }
  expect({ status: res.status, body }).toMatchObject({ status, body: { statusCode: status } });
  expect(Object.keys(body).sort()).toEqual(["error", "message", "statusCode"]);
  expect(typeof body.error).toBe("string");
  expect(body.error.length).toBeGreaterThan(0);
  for (const f of fragments) {
    if (typeof f === "string") expect(body.message).toContain(f);
    else expect(body.message).toMatch(f);
  }
  expect(res.headers.get("content-type") ?? "").toContain("application/json");
  return body;
}

/** The JSON body of an upstream-double answer, asserting it came from the double. */
export async function expectUpstream(res: Response, tenant: string): Promise<{ tenant: string; path: string; method: string; body: string }> {
  const text = await res.text();
  if (res.status !== 200 || res.headers.get("x-upstream") !== "double") throw new Error(`expected the upstream double to answer for ${tenant}, got ${res.status}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { tenant: string; path: string; method: string; body: string };
  expect(body.tenant).toBe(tenant);
  return body;
}

/**
 * A token signed with the gateway's dev key but with any payload and timing, for what `signDevToken`
 * refuses to make (expired tokens, odd claims).
 */
export async function rawDevToken(gw: TestGateway, payload: Record<string, unknown>, opts: { iatOffsetSec?: number; expOffsetSec: number; audience?: string }): Promise<string> {
  const key = await loadDevKey(gw.dataDir);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: "dev|admin", ...payload })
    .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT" })
    .setIssuer(DEV_ISSUER)
    .setAudience(opts.audience ?? gw.config.audience)
    .setIssuedAt(now + (opts.iatOffsetSec ?? 0))
    .setExpirationTime(now + opts.expOffsetSec)
    .sign(key.privateKey);
}

export const json = (body: unknown): RequestInit => ({
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** Creates tenants as the control-plane admin; fails the test unless each answers 201. */
export async function createTenants(gw: TestGateway, ids: string[], token?: string): Promise<void> {
  const t = token ?? (await gw.token());
  for (const id of ids) {
    const res = await gw.request(gw.config.baseDomain, "/api/v2/tenants", { method: "POST", token: t, ...json({ id, friendly_name: `Tenant ${id}` }) });
    if (res.status !== 201) throw new Error(`creating ${id}: ${res.status} ${await res.text()}`);
  }
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs = 4000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await Bun.sleep(25);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * One HTTP/1.1 request written byte for byte, for request targets that `fetch` would normalize
 * (`//host/x`, backslashes, dot segments). Returns the status and the (de-chunked) body.
 */
export function rawRequest(port: number, target: string, headers: Record<string, string>, method = "GET", body = ""): Promise<{ status: number; headers: string; body: string }> {
  const all = { connection: "close", ...headers, ...(body ? { "content-length": String(Buffer.byteLength(body)) } : {}) };
  const head = [`${method} ${target} HTTP/1.1`, ...Object.entries(all).map(([k, v]) => `${k}: ${v}`), "", body].join("\r\n");
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, "127.0.0.1", () => socket.write(head));
    socket.setTimeout(5000, () => socket.destroy(new Error("raw request timed out")));
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const headText = text.slice(0, split);
      let body = text.slice(split + 4);
      if (/^transfer-encoding:\s*chunked/im.test(headText)) {
        let out = "";
        for (;;) {
          const eol = body.indexOf("\r\n");
          const size = Number.parseInt(body.slice(0, eol), 16);
          if (!size) break;
          out += body.slice(eol + 2, eol + 2 + size);
          body = body.slice(eol + 2 + size + 2);
        }
        body = out;
      }
      resolve({ status: Number(headText.split(" ")[1]), headers: headText, body });
    });
  });
}
