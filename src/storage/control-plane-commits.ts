import { watch, type FSWatcher } from "chokidar";
import type { Logger } from "../log.ts";
import type { ControlPlane } from "./control-plane.ts";

/**
 * What a subscriber is told: another connection committed to the control plane (`commit`), or the
 * file or its WAL changed (`file`), which this process's own commits also do and `data_version`
 * never shows, or (on a libSQL server, whose poll tells them apart) the outbox gained rows and
 * nothing the registry keeps changed (`outbox`).
 */
export type ControlPlaneNews = "commit" | "file" | "outbox";

/**
 * Other processes' commits to the control plane, noticed in one place for everyone who keeps what it
 * says (the registry, the relay): by `data_version` and file events for a file (ControlPlaneCommits),
 * by polling a change counter on a libSQL server (ControlPlanePoll).
 */
export interface ControlPlaneChanges {
  /** Told of every commit a look finds (and of file events, for a file). */
  subscribe(listener: (news: ControlPlaneNews) => void): () => void;
  /** Looks now; true when another connection committed since the last look (subscribers have been told). */
  look(): boolean | Promise<boolean>;
  /** Looks unless someone looked within `maxAgeMs`; true when that look found a commit. */
  lookIfStale(maxAgeMs: number): boolean | Promise<boolean>;
  /** Keeps the control plane watched until the returned function is called. */
  watch(): () => Promise<void>;
  close(): void;
}

/** How often a watched control plane is looked at, so a commit whose file event was missed is seen within a fraction of a second. */
const LOOK_EVERY_MS = 200;
/** After a file event, how long (and how often) the commit it announces is looked for. */
const SETTLE_MS = 1_000;
const SETTLE_CHECK_MS = 20;

/**
 * Other processes' commits to the control plane (AuthHero, a CLI command, a script), noticed in one
 * place for everyone who keeps what the control plane says. Another connection's commit moves
 * `PRAGMA data_version`, which costs a microsecond to read; whoever looks and sees it move, every
 * subscriber is told, so one look serves them all. Lookups look when what they hold may be stale;
 * while anyone watches, the control plane is also looked at on one timer and at its file's events,
 * so subscribers hear of a commit without asking.
 */
export class ControlPlaneCommits implements ControlPlaneChanges {
  private seen: number;
  private lookedAt = Number.NEGATIVE_INFINITY;
  private readonly listeners = new Set<(news: ControlPlaneNews) => void>();
  private watchers = 0;
  private timer?: ReturnType<typeof setInterval>;
  private settle?: ReturnType<typeof setTimeout>;
  private settleUntil = 0;
  private files?: FSWatcher;

  constructor(
    private readonly cp: ControlPlane,
    private readonly log: Logger,
  ) {
    this.seen = cp.dataVersion();
  }

  /**
   * Told of every commit any look finds, and of the file's events while it is watched. Listeners are
   * told in the order they subscribed, from inside whoever looked (a lookup, perhaps in the middle
   * of a transaction): one with work to do does it after returning.
   */
  subscribe(listener: (news: ControlPlaneNews) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Looks now; true when another connection committed since the last look (subscribers have been told). */
  look(): boolean {
    this.lookedAt = performance.now();
    const version = this.cp.dataVersion();
    if (version === this.seen) return false;
    this.seen = version;
    this.tell("commit");
    return true;
  }

  /** Looks unless someone looked within `maxAgeMs`; true when it looked and found another connection's commit. */
  lookIfStale(maxAgeMs: number): boolean {
    return performance.now() - this.lookedAt >= maxAgeMs && this.look();
  }

  /**
   * Keeps the control plane watched (the timer and the file's events) until the returned function is
   * called. Watches overlap: the last one to end stops the looking.
   */
  watch(): () => Promise<void> {
    if (this.watchers++ === 0) this.startWatching();
    let ended = false;
    return async () => {
      if (ended) return;
      ended = true;
      if (--this.watchers === 0) await this.stopWatching();
    };
  }

  /** Stops looking on its own, whoever still watches: the control plane is closing. */
  close(): void {
    this.watchers = 0;
    void this.stopWatching();
  }

  private startWatching(): void {
    this.timer = setInterval(() => this.look(), LOOK_EVERY_MS);
    this.timer.unref();
    // File events are hints and can be missed (a busy machine, a network volume), hence the timer too.
    this.files = watch([this.cp.path, `${this.cp.path}-wal`], { ignoreInitial: true, persistent: false });
    this.files.on("all", () => this.fileChanged()).on("error", (err) => this.log.warn({ err }, "control-plane watcher failed; the poll carries on"));
  }

  private async stopWatching(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.settle);
    this.timer = this.settle = undefined;
    const files = this.files;
    this.files = undefined;
    await files?.close();
  }

  /**
   * A file event can come before the commit it announces is visible: the writer appends to the WAL
   * first and publishes the commit in the WAL index (shared memory, no event) after its fsync, and
   * chokidar drops the later events of a write whose mtime did not move. So look now, and look again
   * often for a moment; otherwise such a commit waits for the timer.
   */
  private fileChanged(): void {
    if (this.watchers === 0) return;
    this.look();
    this.tell("file");
    this.settleUntil = Date.now() + SETTLE_MS;
    if (!this.settle) this.lookWhileSettling();
  }

  private lookWhileSettling(): void {
    this.settle = setTimeout(() => {
      this.settle = undefined;
      if (this.watchers === 0) return;
      this.look();
      if (Date.now() < this.settleUntil) this.lookWhileSettling();
    }, SETTLE_CHECK_MS);
    this.settle.unref();
  }

  private tell(news: ControlPlaneNews): void {
    for (const listener of this.listeners) listener(news);
  }
}
