import { describe, expect, test } from "bun:test";
import { OneAtATime } from "./one-at-a-time.ts";

// Which bytes of a handed-over connection may go to the full gateway yet (src/front/one-at-a-time.ts).

const b = (s: string) => Buffer.from(s, "latin1");
const GET = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
const OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

describe("OneAtATime", () => {
  test("passes one request, holds the next until its answer is complete", () => {
    const s = new OneAtATime();
    const both = b(GET + GET);
    expect(s.take(both)).toBe(GET.length);
    expect(s.take(b(GET))).toBe(0);
    expect(s.answered(b(OK.slice(0, 20)))).toBe(false);
    expect(s.answered(b(OK.slice(20)))).toBe(true);
    expect(s.take(b(GET))).toBe(GET.length);
  });

  test("a body by length or in chunks goes with its request; the next request waits", () => {
    const s = new OneAtATime();
    const post = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    expect(s.take(b(post + GET))).toBe(post.length);
    expect(s.answered(b(OK))).toBe(true);
    const chunked = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    expect(s.take(b(chunked.slice(0, 60)))).toBe(60);
    expect(s.take(b(chunked.slice(60) + GET))).toBe(chunked.length - 60);
  });

  test("an interim 100 Continue is not the answer; a chunked answer ends at its last chunk; HEAD's ends at its head", () => {
    const s = new OneAtATime();
    const post = "POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz";
    expect(s.take(b(post))).toBe(post.length);
    expect(s.answered(b("HTTP/1.1 100 Continue\r\n\r\n"))).toBe(false);
    expect(s.answered(b("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n"))).toBe(false);
    expect(s.answered(b("0\r\n\r\n"))).toBe(true);
    const head = "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n";
    expect(s.take(b(head + GET))).toBe(head.length);
    expect(s.answered(b("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"))).toBe(true);
  });

  test.each([
    ["Content-Length with Transfer-Encoding", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"],
    ["two Content-Lengths", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"],
    ["an upgrade", "GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n"],
    ["HTTP/1.0", "GET /a HTTP/1.0\r\nHost: x\r\n\r\n"],
    ["obs-fold", "GET /a HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"],
    ["a bare LF", "GET /a HTTP/1.1\r\nHost: x\nY: 1\r\n\r\n"],
  ])("%s: it stops judging and the server's parser gets every byte", (_name, head) => {
    const s = new OneAtATime();
    const all = b(head + GET);
    expect(s.take(all)).toBe(all.length);
    expect(s.passingAll).toBe(true);
  });

  test("an answer before the request is whole, or one that closes, leaves the rest to the server", () => {
    const early = new OneAtATime();
    expect(early.take(b("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"))).toBeGreaterThan(0);
    early.answered(b("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n"));
    expect(early.passingAll).toBe(true);
    const closing = new OneAtATime();
    closing.take(b(GET));
    closing.answered(b("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"));
    expect(closing.passingAll).toBe(true);
  });
});
