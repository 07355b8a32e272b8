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
