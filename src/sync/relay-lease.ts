import type { Logger } from "pino";
import type { Lease, LeaseHolder } from "../storage/index.ts";

/** Who runs the outbox relay among the gateways sharing a control plane. */
export interface RelayHolder {
  holder: string;
  expires_at: string;
  granted_at: string;
  /** Whether this gateway is the one. */
  this_gateway: boolean;
}

/**
 * Keeps this gateway's claim on the relay's lease: tries to take it, and renews it while held,
 * every third of its time, so the holder keeps it and a dead holder's is taken within the lease time
 * plus a third. Only the holder's relay runs; `onGained` wakes it.
 */
export class RelayLease {
  private timer?: ReturnType<typeof setInterval>;
  private holding = false;
  private trying?: Promise<boolean>;

  constructor(
    private readonly lease: Lease,
    private readonly log: Logger,
    private readonly onGained: () => void,
    private readonly onChange?: (held: boolean) => void,
  ) {}

  /** Whether this gateway held the lease at its last try. */
  get held(): boolean {
    return this.holding;
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.tryHold(), this.lease.ttlMs / 3);
    this.timer.unref();
    await this.tryHold();
  }

  /** Stops renewing and hands the lease back, so another gateway's relay takes over at once. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.trying;
    if (!this.holding) return;
    this.holding = false;
    this.onChange?.(false);
    this.log.info("handed the outbox relay's lease back: another gateway's relay takes over");
    await this.lease.release().catch((err) => this.log.warn({ err }, "could not hand back the relay's lease; another gateway takes it when it lapses"));
  }

  /** Takes or renews the lease now; whether this gateway holds it. One try at a time. */
  tryHold(): Promise<boolean> {
    this.trying ??= this.lease
      .acquire()
      .catch((err) => {
        // The database is away: a holder that cannot renew must stop as if it had lost the lease.
        this.log.warn({ err }, "cannot renew the relay's lease; this gateway's relay pauses");
        return false;
      })
      .then((held) => {
        this.set(held);
        return held;
      })
      .finally(() => (this.trying = undefined));
    return this.trying;
  }

  async current(): Promise<RelayHolder | undefined> {
    const row: LeaseHolder | undefined = await this.lease.current();
    if (!row) return undefined;
    return {
      holder: row.holder,
      expires_at: new Date(row.expiresAt).toISOString(),
      granted_at: new Date(row.grantedAt).toISOString(),
      this_gateway: row.holder === this.lease.holder && row.expiresAt > Date.now(),
    };
  }

  private set(held: boolean): void {
    if (held === this.holding) return;
    this.holding = held;
    this.onChange?.(held);
    if (held) {
      this.log.info({ holder: this.lease.holder }, "this gateway runs the outbox relay");
      this.onGained();
    } else this.log.warn("this gateway no longer runs the outbox relay");
  }
}
