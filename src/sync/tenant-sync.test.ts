// How each attempt's outcome changes what the relay knows of a tenant: failures back off, doubling
// up to a minute; a success or a check clears them; a replaced file forgets its cursor.
import { expect, test } from "bun:test";
import { TenantSync } from "./tenant-sync.ts";

test("each failure waits about twice as long as the one before (with jitter), never more than a minute", () => {
  const s = new TenantSync();
  const waits: number[] = [];
  for (let i = 0; i < 12; i++) {
    const before = Date.now();
    s.failed("database is locked");
    waits.push((s.nextAttemptAt as number) - before);
  }
  expect(s.attempts).toBe(12);
  expect(s.lastError).toBe("database is locked");
  for (const [i, wait] of waits.entries()) {
    const full = Math.min(60_000, 250 * 2 ** i);
    expect(wait).toBeGreaterThanOrEqual(full / 2 - 1);
    expect(wait).toBeLessThanOrEqual(full + 5);
  }
  expect(s.backingOff(Date.now())).toBe(true);
  expect(s.backingOff((s.nextAttemptAt as number) + 1)).toBe(false);
  expect(s.dirty).toBe(true);
});

test("applied and checked clear the failures; only an apply clears an owed full copy", () => {
  const s = new TenantSync();
  s.read(0, undefined);
  expect(s).toMatchObject({ cursor: 0, verified: true, needsReconcile: true });
  s.failed("busy");
  s.checked(5, undefined);
  expect(s).toMatchObject({ cursor: 5, attempts: 0, lastError: null, nextAttemptAt: null, needsReconcile: true });
  s.applied(9, 2, undefined);
  expect(s).toMatchObject({ cursor: 9, conflicts: 2, needsReconcile: false, verified: true });
});

test("a file behind what was remembered keeps its failures; a replaced one forgets cursor and failures", () => {
  const s = TenantSync.seeded(10);
  s.failed("busy");
  s.behind(4, undefined);
  expect(s).toMatchObject({ cursor: 4, verified: true, attempts: 1 });
  s.forgotten();
  expect(s).toMatchObject({ cursor: undefined, verified: false, attempts: 0, lastError: null, nextAttemptAt: null, dirty: false });
});
