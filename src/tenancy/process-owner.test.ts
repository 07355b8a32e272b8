import { expect, test } from "bun:test";
import { hostname } from "node:os";
import { currentOwner, isOwnerAlive } from "./process-owner.ts";

test("this process is alive; the same pid with another start time is not (a reused pid)", () => {
  const me = currentOwner();
  expect(me.pid).toBe(process.pid);
  expect(me.start).toMatch(/^\d+$/);
  expect(isOwnerAlive(me)).toBe(true);
  expect(isOwnerAlive({ ...me, start: "1" })).toBe(false);
});

test("a process that has exited is not alive; while it runs it is", async () => {
  const child = Bun.spawn(["sleep", "30"]);
  const start = (await Bun.file(`/proc/${child.pid}/stat`).text()).split(") ")[1]?.split(" ")[19] ?? null;
  const owner = { host: hostname(), pid: child.pid, start };
  expect(isOwnerAlive(owner)).toBe(true);
  child.kill("SIGKILL");
  await child.exited;
  expect(isOwnerAlive(owner)).toBe(false);
});

test("an owner on another host counts as alive (its work is never taken over); none is dead", () => {
  expect(isOwnerAlive({ host: `${hostname()}-elsewhere`, pid: 1, start: "1" })).toBe(true);
  expect(isOwnerAlive(null)).toBe(false);
});
