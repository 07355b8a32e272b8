import { describe, expect, test } from "bun:test";
import { HttpError } from "../http-error.ts";
import { readPlainRequest } from "../front/request-head.ts";
import { checkMethod, fetchFailure, isPreflight, requestHeaderFate, upstreamOptions, upstreamRequestTarget, upstreamUrl } from "./policy.ts";

// The forwarding policy's rules on their own (src/proxy/policy.ts); test/proxy/transports.test.ts
// checks that both transports follow them.

describe("requestHeaderFate", () => {
  test.each([
    ["accept", "keep"],
    ["x-kept_name", "keep"],
    ["cookie", "keep"],
    ["authorization", "keep"],
    ["Content-Length", "framing"],
    ["transfer-encoding", "framing"],
    ["X-HTTP-Method-Override", "override"],
    ["tenant-id", "drop"],
    ["Tenant_Id", "drop"],
    ["tenant.id", "drop"],
    ["X_Forwarded_For", "drop"],
    ["x.forwarded.host", "drop"],
    ["Forwarded", "drop"],
    ["x-real-ip", "drop"],
    ["content_length", "drop"],
    ["Transfer_Encoding", "drop"],
    ["x_http_method_override", "drop"],
    ["keep-alive", "drop"],
    ["proxy-authorization", "drop"],
    ["host", "drop"],
  ])("%s → %s", (name, fate) => {
    expect(requestHeaderFate(name)).toBe(fate as ReturnType<typeof requestHeaderFate>);
  });
});

describe("the upstream's URL", () => {
  const bare = upstreamOptions({ upstream: "http://authhero:3000", upstreamTimeoutMs: 1000, preserveHost: false });
  const mounted = upstreamOptions({ upstream: "http://authhero:3000/auth/", upstreamTimeoutMs: 1000, preserveHost: false });

  test("a path that looks like a host or userinfo stays a path on the upstream", () => {
    for (const path of ["//evil.example/x", "/@evil.example/x", "/x:@127.0.0.1:1/y", "/%2F%2Fevil/x"]) {
      for (const o of [bare, mounted]) expect(upstreamUrl(o, path, "?q=1").origin).toBe("http://authhero:3000");
    }
  });

  test("a target that is not origin-form is refused on both builders", () => {
    for (const target of ["x:@127.0.0.1:19197/whatever", "*", "http://evil/x", ""]) {
      expect(() => upstreamUrl(bare, target, "")).toThrow(HttpError);
      expect(() => upstreamRequestTarget("", target)).toThrow(HttpError);
    }
  });

  test("the front door's request target and the fetch path's URL agree for every plain target", () => {
    const targets = ["/", "/authorize?client_id=a&x=%2F", "/.well-known/openid-configuration", "/u/login?state=a:b@c", "/api/v2/roles/rol_1?fields=a,b&page=2"];
    for (const o of [bare, mounted]) {
      for (const target of targets) {
        const plain = readPlainRequest(`GET ${target} HTTP/1.1\r\nHost: a`);
        expect(plain).toBeDefined();
        const q = target.indexOf("?");
        const url = upstreamUrl(o, q === -1 ? target : target.slice(0, q), q === -1 ? "" : target.slice(q));
        expect(upstreamRequestTarget(o.basePath, plain!.target)).toBe(url.pathname + url.search);
      }
    }
  });
});

test("methods the gateway does not forward are refused with 405 and Allow", () => {
  for (const m of ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) expect(() => checkMethod(m)).not.toThrow();
  for (const m of ["CONNECT", "TRACE", "PROPFIND", "get"]) {
    try {
      checkMethod(m);
      throw new Error(`${m} passed`);
    } catch (err) {
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).status).toBe(405);
      expect((err as HttpError).headers?.allow).toBe("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    }
  }
});

test("a preflight is OPTIONS with Origin and Access-Control-Request-Method, and no body or Authorization", () => {
  const preflight = { origin: "https://app.example.com", "access-control-request-method": "DELETE" };
  const h = (extra: Record<string, string> = {}) => new Headers({ ...preflight, ...extra });
  expect(isPreflight("OPTIONS", h())).toBe(true);
  expect(isPreflight("OPTIONS", h({ "content-length": "0" }))).toBe(true);
  expect(isPreflight("OPTIONS", h({ "content-length": "5" }))).toBe(false);
  expect(isPreflight("OPTIONS", h({ "transfer-encoding": "chunked" }))).toBe(false);
  expect(isPreflight("OPTIONS", h({ authorization: "Bearer x" }))).toBe(false);
  expect(isPreflight("OPTIONS", new Headers({ "access-control-request-method": "DELETE" }))).toBe(false);
  expect(isPreflight("GET", h())).toBe(false);
});

test("fetch's errors get the answers the front door gives for the same events", () => {
  expect(fetchFailure("ECONNRESET", "http://u:1")).toEqual([502, "the upstream at http://u:1 closed the connection without answering"]);
  expect(fetchFailure("Malformed_HTTP_Response", "http://u:1")).toEqual([502, "the upstream's answer is not valid HTTP"]);
  expect(fetchFailure("ECONNREFUSED", "http://u:1")).toEqual([502, "the upstream at http://u:1 cannot be reached (ECONNREFUSED)"]);
  expect(fetchFailure(undefined, "http://u:1")[1]).toContain("connection failed");
});
