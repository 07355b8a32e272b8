// The one watch of other processes' commits to the control plane: whoever looks, every subscriber
// hears; a watched control plane is looked at without anyone asking; the last watch to end stops it.
import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { openControlPlaneFile, type ControlPlane } from "./control-plane.ts";
import { ControlPlaneCommits, type ControlPlaneNews } from "./control-plane-commits.ts";

let dir: string;
let cp: ControlPlane;
let commits: ControlPlaneCommits;
let other: Database;

function open(): void {
  dir = mkdtempSync(join(tmpdir(), "commits-"));
  cp = openControlPlaneFile(join(dir, "control_plane.sqlite"), "control_plane");
  commits = new ControlPlaneCommits(cp, pino({ level: "silent" }));
  other = new Database(cp.path);
  other.exec("PRAGMA busy_timeout = 5000");
}

afterEach(() => {
  commits.close();
  other.close();
  cp.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A commit by another connection, as AuthHero's. */
function commitElsewhere(id: string): void {
  const now = new Date().toISOString();
  other.query("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES (?, ?, ?, ?)").run(id, id, now, now);
}

function heard(): ControlPlaneNews[] {
  const news: ControlPlaneNews[] = [];
  commits.subscribe((n) => news.push(n));
  return news;
}

test("one look tells every subscriber of another connection's commit, once; this connection's own commits are no news", async () => {
  open();
  const a = heard();
  const b = heard();
  expect(commits.look()).toBe(false);
  commitElsewhere("ext");
  expect(commits.look()).toBe(true);
  expect(commits.look()).toBe(false);
  expect(a).toEqual(["commit"]);
  expect(b).toEqual(["commit"]);
  await cp.insertTenant({ id: "own", friendly_name: "Own", created_at: "x", updated_at: "x" });
  expect(commits.look()).toBe(false);
  expect(a).toEqual(["commit"]);
});

test("a look within the freshness window is skipped, one after it is made", async () => {
  open();
  const news = heard();
  commits.look();
  commitElsewhere("ext");
  commits.lookIfStale(250);
  expect(news).toEqual([]);
  await Bun.sleep(60);
  commits.lookIfStale(50);
  expect(news).toEqual(["commit"]);
});

test("unsubscribed listeners hear nothing more", () => {
  open();
  const news: ControlPlaneNews[] = [];
  const unsubscribe = commits.subscribe((n) => news.push(n));
  unsubscribe();
  commitElsewhere("ext");
  commits.look();
  expect(news).toEqual([]);
});

test("while watched, another connection's commit is heard without anyone asking, within the timer's 200 ms", async () => {
  open();
  const news = heard();
  const unwatch = commits.watch();
  try {
    commitElsewhere("ext");
    const since = performance.now();
    while (!news.includes("commit") && performance.now() - since < 2000) await Bun.sleep(5);
    expect(news).toContain("commit");
    expect(performance.now() - since).toBeLessThan(400);
  } finally {
    await unwatch();
  }
});

test("watches overlap: the looking stops with the last one, and an unwatched control plane is looked at only when asked", async () => {
  open();
  const news = heard();
  const first = commits.watch();
  const second = commits.watch();
  await first();
  // Ending the same watch twice does not end another's.
  await first();
  commitElsewhere("still-watched");
  const since = performance.now();
  while (!news.includes("commit") && performance.now() - since < 2000) await Bun.sleep(5);
  expect(news).toContain("commit");
  await second();

  news.length = 0;
  commitElsewhere("unwatched");
  await Bun.sleep(500);
  expect(news).toEqual([]);
  expect(commits.look()).toBe(true);
  expect(news).toEqual(["commit"]);
});

test("close stops the looking whoever still watches", async () => {
  open();
  const news = heard();
  commits.watch();
  commits.close();
  commitElsewhere("ext");
  await Bun.sleep(500);
  expect(news).toEqual([]);
});
