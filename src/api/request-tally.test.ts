import { expect, test } from "bun:test";
import { DURATION_BUCKETS, RequestTally } from "./request-tally.ts";

test("requests are counted by class and status, durations in the first bucket that holds them", () => {
  const t = new RequestTally();
  t.observe("proxy", 200, 0.0004);
  t.observe("proxy", 200, 0.001); // on a bound: that bucket (le is inclusive)
  t.observe("proxy", 502, 30); // above every bucket: the last slot
  t.observe("health", 200, 0.002);
  expect([...t.counts]).toEqual([
    ["proxy 200", 2],
    ["proxy 502", 1],
    ["health 200", 1],
  ]);
  const proxy = t.durations.get("proxy");
  expect(proxy?.buckets[0]).toBe(1);
  expect(proxy?.buckets[1]).toBe(1);
  expect(proxy?.buckets[DURATION_BUCKETS.length]).toBe(1);
  expect(proxy?.count).toBe(3);
  expect(proxy?.sum).toBeCloseTo(30.0014, 6);
});

test("a tally taken from one place and added to another keeps every number; the source starts over", () => {
  const front = new RequestTally();
  const main = new RequestTally();
  front.observe("proxy", 200, 0.0003);
  front.observe("proxy", 200, 0.2);
  main.observe("proxy", 200, 0.0003);
  main.observe("rejected", 404, 0.0001);
  // Through structured clone, as between threads.
  main.add(structuredClone(front.take()));
  expect(main.counts.get("proxy 200")).toBe(3);
  expect(main.counts.get("rejected 404")).toBe(1);
  expect(main.durations.get("proxy")?.count).toBe(3);
  expect(main.durations.get("proxy")?.buckets[0]).toBe(2);
  expect(front.counts.size).toBe(0);
  expect(front.take()).toEqual({ counts: [], durations: [] });
});
