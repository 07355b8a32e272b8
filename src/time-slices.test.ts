import { expect, test } from "bun:test";
import { timeSlices } from "./time-slices.ts";

test("work longer than a slice lets a timer run before it ends; work shorter than one does not wait", async () => {
  const busy = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };
  let fired = 0;
  const timer = setInterval(() => fired++, 0);
  try {
    const slice = timeSlices(5);
    for (let i = 0; i < 20; i++) {
      await slice();
      busy(1);
    }
    expect(fired).toBeGreaterThan(0);

    fired = 0;
    const quick = timeSlices(1_000);
    for (let i = 0; i < 20; i++) {
      await quick();
      busy(1);
    }
    expect(fired).toBe(0);
  } finally {
    clearInterval(timer);
  }
});

test("with a share below 1, the work rests between slices: it takes the main thread for about that share of the time", async () => {
  const busy = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };
  const slice = timeSlices(5, 0.5);
  let worked = 0;
  const t0 = performance.now();
  for (let i = 0; i < 40; i++) {
    await slice();
    busy(1);
    worked += 1;
  }
  const elapsed = performance.now() - t0;
  // 40 ms of work in slices of 5, each followed by a 5 ms rest: about 75 ms or more, never 40.
  expect(elapsed).toBeGreaterThan(worked * 1.5);
});
