import { expect, test } from "bun:test";
import { Lru, type LeaveReason } from "../src/lru.ts";

function recorded(max: number) {
  const left: [string, number, LeaveReason][] = [];
  return { lru: new Lru<string, number>(max, (v, k, why) => left.push([k, v, why])), left };
}

test("the least recently used goes first; get counts as a use, peek and has do not", () => {
  const { lru, left } = recorded(2);
  lru.set("a", 1).set("b", 2);
  expect(lru.get("a")).toBe(1); // b is now the oldest
  expect(lru.peek("b")).toBe(2);
  expect(lru.has("b")).toBe(true);
  lru.set("c", 3);
  expect([...lru.keys()]).toEqual(["a", "c"]);
  expect(left).toEqual([["b", 2, "evict"]]);
});

test("every value that leaves is disposed of once, with why", () => {
  const { lru, left } = recorded(3);
  lru.set("a", 1).set("b", 2).set("c", 3);
  lru.set("a", 10); // replaced
  lru.set("b", 2); // the same value again: nothing leaves
  expect(lru.delete("c")).toBe(true);
  expect(lru.delete("c")).toBe(false);
  lru.clear();
  expect(left).toEqual([
    ["a", 1, "set"],
    ["c", 3, "delete"],
    ["a", 10, "delete"],
    ["b", 2, "delete"],
  ]);
  expect(lru.size).toBe(0);
});

test("max 0 keeps nothing", () => {
  const { lru, left } = recorded(0);
  lru.set("a", 1);
  expect(lru.size).toBe(0);
  expect(left).toEqual([["a", 1, "evict"]]);
  expect(() => new Lru(-1)).toThrow("max");
});
