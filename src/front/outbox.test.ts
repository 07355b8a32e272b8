import { expect, test } from "bun:test";
import type { Socket } from "bun";
import { Outbox } from "./outbox.ts";

/** A socket whose kernel buffer has room for `room` more bytes until `widen` makes more. */
function tightSocket(room: number): { socket: Socket<unknown>; written: () => string; widen: (n: number) => void } {
  let text = "";
  let limit = room;
  const socket = {
    write(data: Uint8Array | string, offset = 0, length?: number) {
      const all = typeof data === "string" ? Buffer.from(data, "latin1") : Buffer.from(data);
      const bytes = all.subarray(offset, length === undefined ? undefined : offset + length);
      const n = Math.min(limit, bytes.length);
      limit -= n;
      text += bytes.subarray(0, n).toString("latin1");
      return n;
    },
  } as unknown as Socket<unknown>;
  return { socket, written: () => text, widen: (n) => (limit = n) };
}

test("what a socket does not take waits, in order, and goes out on flush", () => {
  const s = tightSocket(4);
  const out = new Outbox(() => s.socket);
  expect(out.write(Buffer.from("abcdef"))).toBe(false); // "ef" waits
  expect(out.write("ghi")).toBe(false); // queued behind it, never ahead
  expect(out.empty).toBe(false);
  expect(s.written()).toBe("abcd");
  s.widen(4);
  expect(out.flush()).toBe(false); // room for 4 more: "ef" and "gh"
  expect(s.written()).toBe("abcdefgh");
  s.widen(100);
  expect(out.flush()).toBe(true);
  expect(s.written()).toBe("abcdefghi");
  expect(out.empty).toBe(true);
  expect(out.write("jk")).toBe(true);
  expect(s.written()).toBe("abcdefghijk");
});

test("a socket that is gone takes nothing and holds nothing", () => {
  const out = new Outbox<unknown>(() => undefined);
  expect(out.write("abc")).toBe(true);
  expect(out.flush()).toBe(true);
  expect(out.empty).toBe(true);
});

test("bytes from a buffer about to be reused wait as a copy: reusing it changes nothing queued", () => {
  const s = tightSocket(3);
  const out = new Outbox(() => s.socket);
  const scratch = Buffer.from("abcdefXXXX");
  expect(out.writeCopy(scratch, 6)).toBe(false); // "def" waits
  scratch.write("ghiYYYYYYY", "latin1");
  expect(out.writeCopy(scratch, 3)).toBe(false); // queued behind, copied
  scratch.fill("Z");
  s.widen(100);
  expect(out.flush()).toBe(true);
  expect(s.written()).toBe("abcdefghi");
});
