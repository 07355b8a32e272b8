import { describe, expect, test } from "bun:test";
import { readPlainRequest } from "./request-head.ts";
import { ChunkedScanner, readResponseHead } from "./response-head.ts";

const head = (first: string, ...lines: string[]) => [first, ...lines].join("\r\n");
/** The kept lines of a plain request, as text (the ranges reach into the blank line's CRLF). */
const keptText = (h: string, kept: number[]) => {
  const bytes = `${h}\r\n\r\n`;
  let out = "";
  for (let i = 0; i < kept.length; i += 2) out += bytes.slice(kept[i], kept[i + 1]);
  return out;
};

describe("readPlainRequest", () => {
  test("a plain GET: path, host, token and request id read; gateway-set and hop-by-hop headers left out", () => {
    const h = head(
        "GET /authorize?client_id=a&redirect_uri=https%3A%2F%2Fapp HTTP/1.1",
        "Host: Acme.localhost:8080",
        "Authorization: Bearer x.y.z",
        "X-Request-Id: abc-1",
        "Tenant-Id: other",
        "X-Tenant-Id: other",
        "X-Forwarded-For: 6.6.6.6",
        "Connection: keep-alive",
        "Keep-Alive: timeout=5",
        "Cookie: a=1",
      );
    const r = readPlainRequest(h);
    expect(keptText(h, r?.kept ?? [])).toBe("Authorization: Bearer x.y.z\r\nCookie: a=1\r\n");
    expect(r).toEqual({
      method: "GET",
      target: "/authorize?client_id=a&redirect_uri=https%3A%2F%2Fapp",
      path: "/authorize",
      kept: expect.any(Array),
      host: "Acme.localhost:8080",
      authorization: "Bearer x.y.z",
      requestId: "abc-1",
      contentLength: 0,
      close: false,
    });
  });

  test("Content-Length is read exactly, Connection: close is noted", () => {
    const h = head("POST /oauth/token HTTP/1.1", "Host: a", "Content-Length:  42\t", "Connection: close", "Accept: */*", "User-Agent: x");
    const r = readPlainRequest(h);
    expect(r?.contentLength).toBe(42);
    expect(r?.close).toBe(true);
    // Adjacent kept lines are one range.
    expect(r?.kept).toHaveLength(4);
    expect(keptText(h, r?.kept ?? [])).toBe("Content-Length:  42\t\r\nAccept: */*\r\nUser-Agent: x\r\n");
  });

  test.each([
    ["HTTP/1.0", head("GET / HTTP/1.0", "Host: a")],
    ["HTTP/2 preface-like line", head("PRI * HTTP/2.0", "Host: a")],
    ["absolute-form target", head("GET http://a/ HTTP/1.1", "Host: a")],
    ["lower-case method", head("get / HTTP/1.1", "Host: a")],
    ["TRACE", head("TRACE / HTTP/1.1", "Host: a")],
    ["CONNECT", head("CONNECT a:443 HTTP/1.1", "Host: a")],
    ["an unknown method", head("PROPFIND / HTTP/1.1", "Host: a")],
    ["no Host", head("GET / HTTP/1.1", "Accept: */*")],
    ["empty Host", head("GET / HTTP/1.1", "Host: ")],
    ["two Hosts", head("GET / HTTP/1.1", "Host: a", "Host: b")],
    ["Transfer-Encoding", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked")],
    ["Content-Length and Transfer-Encoding", head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Transfer-Encoding: chunked")],
    ["two Content-Lengths", head("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Content-Length: 5")],
    ["a signed Content-Length", head("POST / HTTP/1.1", "Host: a", "Content-Length: +5")],
    ["a Content-Length list", head("POST / HTTP/1.1", "Host: a", "Content-Length: 5, 5")],
    ["a non-breaking space in Content-Length", head("POST / HTTP/1.1", "Host: a", "Content-Length: \xa05")],
    ["Expect", head("POST / HTTP/1.1", "Host: a", "Expect: 100-continue")],
    ["Upgrade", head("GET / HTTP/1.1", "Host: a", "Upgrade: websocket")],
    ["Connection naming a header", head("GET / HTTP/1.1", "Host: a", "Connection: x-secret")],
    ["a method override header", head("GET / HTTP/1.1", "Host: a", "X-HTTP-Method-Override: DELETE")],
    ["_method in the query", head("GET /api/v2/roles/r?_method=DELETE HTTP/1.1", "Host: a")],
    ["obs-fold", head("GET / HTTP/1.1", "Host: a", "X-A: b", " folded")],
    ["space before the colon", head("GET / HTTP/1.1", "Host : a")],
    ["a bare LF inside a line", head("GET / HTTP/1.1", "Host: a\nX-Smuggled: 1")],
    ["a bare CR inside a line", head("GET / HTTP/1.1", "Host: a\rX: 1")],
    ["a NUL in a value", head("GET / HTTP/1.1", "Host: a", "X-A: b\0c")],
    ["a percent escape in the path", head("GET /api/v2/roles%2Fx HTTP/1.1", "Host: a")],
    ["a dot segment", head("GET /a/../api/v2/users HTTP/1.1", "Host: a")],
    ["an empty segment", head("GET //api/v2/users HTTP/1.1", "Host: a")],
    ["a backslash", head("GET /api\\v2/users HTTP/1.1", "Host: a")],
    ["a quote in the query", head("GET /x?a=' HTTP/1.1", "Host: a")],
  ])("%s is not plain (the full gateway judges it)", (_name, h) => {
    expect(readPlainRequest(h)).toBeUndefined();
  });

  test("a head over the policy's limit is not plain, also when complete (the full gateway answers 431)", () => {
    const padded = (total: number) => head("GET / HTTP/1.1", "Host: a", `X-Pad: ${"p".repeat(total - 36)}`);
    expect(padded(16_384).length + 4).toBe(16_384);
    expect(readPlainRequest(padded(16_384))).toBeDefined();
    expect(readPlainRequest(padded(16_385))).toBeUndefined();
  });

  test("Forwarded and names that normalize to the gateway's own headers are plain, and left out", () => {
    const h = head("GET / HTTP/1.1", "Host: a", "Forwarded: for=1.2.3.4", "tenant_id: b", "X.Forwarded.For: 6", "X-Real-IP: 6", "X-Kept: 1");
    const r = readPlainRequest(h);
    expect(r).toBeDefined();
    const kept = r!.kept.reduce((out, at, i, all) => (i % 2 === 0 ? out + h.slice(at, all[i + 1]) : out), "");
    expect(kept).toBe("X-Kept: 1");
  });

  test("dot files are plain paths, dot segments are not", () => {
    expect(readPlainRequest(head("GET /.well-known/openid-configuration HTTP/1.1", "Host: a"))?.path).toBe("/.well-known/openid-configuration");
    expect(readPlainRequest(head("GET /a/. HTTP/1.1", "Host: a"))).toBeUndefined();
    expect(readPlainRequest(head("GET /a/.. HTTP/1.1", "Host: a"))).toBeUndefined();
  });
});

describe("readResponseHead", () => {
  test("keeps end-to-end headers, drops hop-by-hop ones and those Connection names, and the upstream's request id", () => {
    const r = readResponseHead(
      head("HTTP/1.1 200 OK", "Content-Type: text/plain", "Connection: keep-alive, X-Internal", "Keep-Alive: timeout=5", "X-Internal: 1", "Set-Cookie: a=1", "Set-Cookie: b=2", "X-Request-Id: up", "Content-Length: 2"),
      "GET",
    );
    if (r instanceof Error) throw r;
    expect(r.statusLine).toBe("HTTP/1.1 200 OK");
    expect(r.block).toBe("Content-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n");
    expect(r.framing).toEqual({ kind: "length", bytes: 2 });
    expect(r.close).toBe(false);
  });

  test("a head the gateway has nothing to change passes as it came; equal repeated lengths pass once", () => {
    const plain = readResponseHead(head("HTTP/1.1 404 Not Found", "Content-Type: application/json", "Date: x", "Content-Length: 9"), "GET");
    if (plain instanceof Error) throw plain;
    expect([plain.statusLine, plain.block]).toEqual(["HTTP/1.1 404 Not Found", "Content-Type: application/json\r\nDate: x\r\nContent-Length: 9\r\n"]);
    const twice = readResponseHead(head("HTTP/1.1 200 OK", "Content-Length: 9", "TE-Like: 1", "Content-Length: 9"), "GET");
    if (twice instanceof Error) throw twice;
    // A body without a Content-Type is sent as what Bun.serve (the fetch path) makes of it.
    expect(twice.block).toBe("Content-Length: 9\r\nTE-Like: 1\r\ncontent-type: application/octet-stream\r\n");
    const bare = readResponseHead("HTTP/1.0 200 OK", "GET");
    if (bare instanceof Error) throw bare;
    expect([bare.statusLine, bare.block, bare.framing.kind, bare.close]).toEqual(["HTTP/1.1 200 OK", "content-type: application/octet-stream\r\n", "close", true]);
  });

  test.each([
    ["HEAD", head("HTTP/1.1 200 OK", "Content-Length: 10"), "HEAD", { kind: "none" }, false],
    ["204", head("HTTP/1.1 204 No Content"), "GET", { kind: "none" }, false],
    ["304", head("HTTP/1.1 304 Not Modified", "Content-Length: 10"), "GET", { kind: "none" }, false],
    ["103", head("HTTP/1.1 103 Early Hints", "Link: </a.css>"), "GET", { kind: "none" }, false],
    ["chunked", head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"), "GET", { kind: "chunked" }, false],
    ["gzip then chunked", head("HTTP/1.1 200 OK", "Transfer-Encoding: gzip", "Transfer-Encoding: chunked"), "GET", { kind: "chunked" }, false],
    ["a coding not ending in chunked", head("HTTP/1.1 200 OK", "Transfer-Encoding: gzip"), "GET", { kind: "close" }, true],
    ["no length", head("HTTP/1.1 200 OK", "Content-Type: text/plain"), "GET", { kind: "close" }, true],
    ["Connection: close", head("HTTP/1.1 200 OK", "Connection: close", "Content-Length: 1"), "GET", { kind: "length", bytes: 1 }, true],
    ["HTTP/1.0", head("HTTP/1.0 200 OK", "Content-Length: 1"), "GET", { kind: "length", bytes: 1 }, true],
    ["HTTP/1.0 keep-alive", head("HTTP/1.0 200 OK", "Connection: keep-alive", "Content-Length: 1"), "GET", { kind: "length", bytes: 1 }, false],
  ])("%s: framing and reuse", (_name, h, method, framing, close) => {
    const r = readResponseHead(h, method);
    if (r instanceof Error) throw r;
    expect(r.framing).toEqual(framing as never);
    expect(r.close).toBe(close);
  });

  test.each([
    ["a garbage status line", head("HTTP/1.1 2000 OK")],
    ["HTTP/2", head("HTTP/2 200")],
    ["a line without a colon", head("HTTP/1.1 200 OK", "oops")],
    ["whitespace before a colon (RFC 9112 §5.1: a client could read another name)", head("HTTP/1.1 200 OK", "Content-Length : 5")],
    ["a folded line", head("HTTP/1.1 200 OK", "X-A: 1", " continued: 2")],
    ["a NUL in a value", head("HTTP/1.1 200 OK", "X-A: 1\0")],
    ["a bare LF (response splitting)", head("HTTP/1.1 200 OK", "X-A: 1\nSet-Cookie: evil=1")],
    ["differing Content-Lengths", head("HTTP/1.1 200 OK", "Content-Length: 1", "Content-Length: 2")],
    ["a Content-Length that is no number", head("HTTP/1.1 200 OK", "Content-Length: 1x")],
    ["Transfer-Encoding and Content-Length", head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Content-Length: 5")],
  ])("%s is an error (the gateway answers 502)", (_name, h) => {
    expect(readResponseHead(h, "GET")).toBeInstanceOf(Error);
  });
});

describe("ChunkedScanner", () => {
  const body = "5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n";

  test("finds the end of a chunked body, trailers included, fed whole or byte by byte", () => {
    const bytes = Buffer.from(body + "NEXT");
    const whole = new ChunkedScanner();
    expect(whole.scan(bytes)).toBe(body.length);
    expect(whole.done).toBe(true);

    const bytewise = new ChunkedScanner();
    let consumed = 0;
    for (let i = 0; i < bytes.length && !bytewise.done; i++) consumed += bytewise.scan(bytes.subarray(i, i + 1));
    expect(consumed).toBe(body.length);
  });

  test.each([
    ["no size", "\r\n"],
    ["a size that is not hex", "g\r\n"],
    ["data longer than its size", "2\r\nabc\r\n"],
    ["a bare LF after the size", "2\nab\r\n"],
    ["a size over 12 hex digits", "1000000000000\r\n"],
  ])("%s is malformed", (_name, text) => {
    expect(new ChunkedScanner().scan(Buffer.from(text))).toBe(-1);
  });
});
