import { expect, test } from "bun:test";
import { errorToResponse } from "../../src/error-response.ts";
import { errorAnswer } from "../../src/front/error-answer.ts";
import { HttpError } from "../../src/http-error.ts";
import { rawHttp } from "../support/proxy-upstream.ts";

// The front door writes its refusals as bytes; Bun.serve writes errorToResponse's. Only the
// transport's own lines (Date, Connection) may differ.

const comparable = (head: string) =>
  head
    .split("\r\n")
    .slice(1)
    .map((l) => l.toLowerCase())
    .filter((l) => !l.startsWith("date:") && !l.startsWith("connection:"))
    .sort();

test.each([
  ["a forwarding failure", new HttpError(504, "the upstream did not answer within 300 ms")],
  ["a refusal with its own headers", new HttpError(405, "the gateway does not forward TRACE requests", { allow: "GET, HEAD" })],
  ["a message beyond ASCII", new HttpError(400, "tenant \"café\" is not a label")],
])("%s: the front door's bytes are Bun.serve's for the same error", async (_name, error) => {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => errorToResponse(error) });
  try {
    const served = await rawHttp(server.port as number, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const written = errorAnswer(error).toString("latin1");
    const split = written.indexOf("\r\n\r\n");
    expect(written.slice(0, written.indexOf("\r\n"))).toBe(served.head.split("\r\n")[0]!);
    expect(comparable(written.slice(0, split))).toEqual(comparable(served.head));
    expect(written.slice(split + 4)).toBe(served.body.toString("latin1"));
  } finally {
    server.stop(true);
  }
});

test("the request id goes with it, and the connection closes after it", () => {
  const written = errorAnswer(new HttpError(408, "slow"), "req-1").toString("latin1");
  expect(written).toContain("\r\nx-request-id: req-1\r\n");
  expect(written).toContain("\r\nconnection: close\r\n\r\n");
});
