import type { Logger } from "../log.ts";
import type { ControlPlaneChanges, ControlPlaneNews } from "./control-plane-commits.ts";
import type { SqlDb } from "./sql.ts";

/** The tables whose rows the registry keeps (tenants, their organizations, custom domains). */
const WATCHED = ["tenants", "organizations", "custom_domains"] as const;

/**
 * The counter every change to a watched table moves (triggers in the control plane). On a libSQL
 * server there is no `data_version` to read and no file to watch: another gateway's commit is seen
 * by reading this one row.
 */
export const REGISTRY_VERSION_SQL = [
  "CREATE TABLE IF NOT EXISTS tenantgate_registry_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
  "INSERT OR IGNORE INTO tenantgate_registry_version (id, version) VALUES (1, 0)",
  ...WATCHED.flatMap((table) =>
    ["INSERT", "UPDATE", "DELETE"].map(
      (op) =>
        `CREATE TRIGGER IF NOT EXISTS tenantgate_registry_version_${table}_${op.toLowerCase()} AFTER ${op} ON ${table} BEGIN UPDATE tenantgate_registry_version SET version = version + 1 WHERE id = 1; END`,
    ),
  ),
];

export interface PollOptions {
  /** How often a watched control plane is read: other gateways' changes are seen within this. */
  everyMs: number;
  /**
   * A reload is also announced this often whatever the counter says: a migration that rebuilds a
   * watched table drops its triggers, and a counter that stopped moving must not freeze the routes.
   */
  reloadEveryMs: number;
}

/**
 * Other gateways' (and AuthHero's) commits to a control plane on a libSQL server, by polling the
 * counter and the outbox's last sequence number in one read: a change to a synced entity moves only
 * the outbox, and is told as `outbox` (the relay runs; the registry has nothing to reload).
 */
export class ControlPlanePoll implements ControlPlaneChanges {
  private seen = -1;
  private seenOutbox = -1;
  private lookedAt = Number.NEGATIVE_INFINITY;
  private announcedAt = 0;
  private looking?: Promise<boolean>;
  private readonly listeners = new Set<(news: ControlPlaneNews) => void>();
  private watchers = 0;
  private timer?: ReturnType<typeof setInterval>;

  constructor(
    private readonly db: SqlDb,
    private readonly log: Logger,
    private readonly opts: PollOptions = { everyMs: 1_000, reloadEveryMs: 30_000 },
  ) {}

  /** Installs the counter and its triggers (again, where a migration dropped them) and reads it. */
  async prepare(): Promise<this> {
    await this.db.batch(REGISTRY_VERSION_SQL.map((sql) => ({ sql })));
    ({ version: this.seen, outbox: this.seenOutbox } = await this.version());
    this.announcedAt = performance.now();
    return this;
  }

  subscribe(listener: (news: ControlPlaneNews) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads the counter (one read at a time; callers meanwhile share it); true when it moved. */
  look(): Promise<boolean> {
    this.looking ??= this.lookOnce().finally(() => (this.looking = undefined));
    return this.looking;
  }

  async lookIfStale(maxAgeMs: number): Promise<boolean> {
    return performance.now() - this.lookedAt >= maxAgeMs ? this.look() : false;
  }

  watch(): () => Promise<void> {
    if (this.watchers++ === 0) {
      this.timer = setInterval(() => void this.look().catch((err) => this.log.warn({ err }, "cannot read the control plane's change counter; retrying")), this.opts.everyMs);
      this.timer.unref();
    }
    let ended = false;
    return async () => {
      if (ended) return;
      ended = true;
      if (--this.watchers === 0) clearInterval(this.timer);
    };
  }

  close(): void {
    this.watchers = 0;
    clearInterval(this.timer);
  }

  private async lookOnce(): Promise<boolean> {
    this.lookedAt = performance.now();
    let version: number;
    let outbox: number;
    try {
      ({ version, outbox } = await this.version());
    } catch (err) {
      // The counter's table is gone (a restored control plane): made again, and a reload announced.
      if (!/no such table/i.test(String((err as Error).message))) throw err;
      await this.prepare();
      version = outbox = Number.NaN;
    }
    const due = performance.now() - this.announcedAt >= this.opts.reloadEveryMs;
    const outboxMoved = outbox !== this.seenOutbox;
    this.seenOutbox = outbox;
    if (version === this.seen && !due) {
      if (outboxMoved) for (const listener of this.listeners) listener("outbox");
      return false;
    }
    this.seen = version;
    this.announcedAt = performance.now();
    for (const listener of this.listeners) listener("commit");
    return true;
  }

  /** The counter and the outbox's last sequence number (AUTOINCREMENT: never handed out twice). */
  private async version(): Promise<{ version: number; outbox: number }> {
    const row = await this.db.get<{ version: number | null; outbox: number | null }>(
      "SELECT (SELECT version FROM tenantgate_registry_version WHERE id = 1) AS version, (SELECT seq FROM sqlite_sequence WHERE name = 'tenantgate_outbox') AS outbox",
    );
    return { version: Number(row?.version ?? 0), outbox: Number(row?.outbox ?? 0) };
  }
}
