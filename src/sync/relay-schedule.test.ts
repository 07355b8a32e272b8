// When the relay runs: wakes coalesce, nothing runs before start (the CLI drains), another
// connection's commit wakes a started relay, a backing-off tenant's retry comes on time, stop ends it.
import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { openControlPlaneFile, type ControlPlane } from "../storage/control-plane.ts";
import { ControlPlaneCommits } from "../storage/control-plane-commits.ts";
import { RelaySchedule } from "./relay-schedule.ts";

const log = pino({ level: "silent" });
let dir: string;
let cp: ControlPlane;
let commits: ControlPlaneCommits;
let schedule: RelaySchedule | undefined;

afterEach(async () => {
  await schedule?.stop();
  schedule = undefined;
  commits.close();
  cp.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A schedule whose runs are counted; each run takes `ms` and calls `during` once inside. */
function counted(opts: { ms?: number; during?: () => void; pollMs?: number } = {}): { runs: () => number } {
  dir = mkdtempSync(join(tmpdir(), "schedule-"));
  cp = openControlPlaneFile(join(dir, "control_plane.sqlite"), "control_plane");
  commits = new ControlPlaneCommits(cp, log);
  let runs = 0;
  schedule = new RelaySchedule({
    commits,
    pollMs: opts.pollMs ?? 60_000,
    log,
    run: async () => {
      runs++;
      opts.during?.();
      if (opts.ms) await Bun.sleep(opts.ms);
    },
  });
  return { runs: () => runs };
}

test("not started, a wake runs nothing; drain runs until no pass asks for another", async () => {
  let again = 2;
  const c = counted({ during: () => again-- > 0 && schedule?.wake() });
  schedule?.wake();
  await Bun.sleep(20);
  expect(c.runs()).toBe(0);
  await schedule?.drain();
  expect(c.runs()).toBe(3);
});

test("a burst of wakes during a run costs one more pass", async () => {
  const c = counted({ ms: 50 });
  schedule?.start();
  await Bun.sleep(10);
  for (let i = 0; i < 10; i++) schedule?.wake();
  await Bun.sleep(200);
  expect(c.runs()).toBe(2);
});

test("started, another connection's commit wakes it unasked", async () => {
  const c = counted();
  schedule?.start();
  await Bun.sleep(20);
  const before = c.runs();
  const other = new Database(cp.path);
  try {
    const now = new Date().toISOString();
    other.query("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES ('ext', 'ext', ?, ?)").run(now, now);
  } finally {
    other.close();
  }
  const since = performance.now();
  while (c.runs() === before && performance.now() - since < 2000) await Bun.sleep(5);
  expect(c.runs()).toBeGreaterThan(before);
  expect(performance.now() - since).toBeLessThan(400);
});

test("a retry runs at its time; a later one replaces it; stop cancels it and no commit wakes a stopped schedule", async () => {
  const c = counted();
  schedule?.start();
  await Bun.sleep(20);
  const before = c.runs();
  schedule?.retryAt(Date.now() + 30);
  schedule?.retryAt(Date.now() + 250);
  await Bun.sleep(120);
  expect(c.runs()).toBe(before);
  await Bun.sleep(300);
  expect(c.runs()).toBe(before + 1);

  schedule?.retryAt(Date.now() + 30);
  await schedule?.stop();
  const other = new Database(cp.path);
  try {
    const now = new Date().toISOString();
    other.query("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES ('late', 'late', ?, ?)").run(now, now);
  } finally {
    other.close();
  }
  commits.look();
  await Bun.sleep(100);
  expect(c.runs()).toBe(before + 1);
  expect(schedule?.stopped).toBe(true);
});
