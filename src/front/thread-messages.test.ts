import { expect, test } from "bun:test";
import type { Finished } from "./front-door.ts";
import { recordLine, recordsOf } from "./thread-messages.ts";

test("access records cross between threads as lines and come back field for field", () => {
  const records: Finished[] = [
    { method: "GET", path: "/authorize", status: 200, seconds: 0.000731, peer: "127.0.0.1", requestId: "5f0c5a6e-8d2b-4f7e-9c1a-2b3c4d5e6f70" },
    { method: "POST", path: "/u/login/identifier;x=1", status: 502, seconds: 12.5, peer: "2001:db8::7", requestId: "client.id:42" },
    { method: "HEAD", path: "/", status: 304, seconds: 0, peer: "", requestId: "r" },
  ];
  const lines = records.map(recordLine).join("");
  expect(lines.split("\n")).toHaveLength(records.length + 1);
  expect([...recordsOf(lines)]).toEqual(records);
  expect([...recordsOf("")]).toEqual([]);
});
