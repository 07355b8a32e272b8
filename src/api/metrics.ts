import { Counter, Gauge, Histogram, Registry, type Metric } from "prom-client";
import { DURATION_BUCKETS, RequestTally, type TallySnapshot } from "./request-tally.ts";
import type { TokenVerifier } from "../auth/index.ts";
import type { TenantRegistry } from "../tenancy/index.ts";
import type { HandlePool } from "../storage/files.ts";
import { DESCRIPTORS_PER_HANDLE, openFileLimit } from "../storage/index.ts";
import type { FailureReason, OutboxRelay, RelayObserver } from "../sync/index.ts";

export type RouteClass = "health" | "metrics" | "docs" | "tenants-api" | "proxy" | "rejected";

/** The gateway's Prometheus metrics, in a registry of its own (two gateways in one process never clash). */
export class GatewayMetrics {
  readonly registry = new Registry();
  /** Requests counted on the hot path, handed to prom-client at scrape time. */
  private readonly tally = new RequestTally();
  /** Counts held elsewhere (the front door's thread) that must arrive before a scrape reads them. */
  private readonly pending: (() => Promise<void>)[] = [];

  /** `pool`: the tenant files' handle pool; undefined when tenants are a libSQL server's namespaces. */
  constructor(tenants: TenantRegistry, pool: HandlePool | undefined) {
    const counted = this.tally.counts;
    new Counter({
      name: "tenantgate_http_requests_total",
      help: "Requests answered, by route class and status code",
      labelNames: ["class", "status"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [key, n] of counted) {
          const [cls, status] = key.split(" ");
          this.inc({ class: cls, status }, n);
        }
      },
    });
    this.registry.registerMetric(new RequestDurations(this.tally) as unknown as Metric);
    new Gauge({
      name: "tenantgate_tenants",
      help: "Child tenants by state; orphan = a tenant file the control plane does not list",
      labelNames: ["state"],
      registers: [this.registry],
      async collect() {
        for (const [state, n] of Object.entries(await tenants.counts())) this.set({ state }, n);
      },
    });
    if (pool) this.watchPool(pool);
  }

  private watchPool(pool: HandlePool): void {
    new Gauge({
      name: "tenantgate_open_tenant_files",
      help: "Tenant files held open by the handle pool",
      registers: [this.registry],
      collect() {
        this.set(pool.openCount);
      },
    });
    new Gauge({
      name: "tenantgate_tenant_file_budget",
      help: "Tenant files the pool may hold open at once",
      registers: [this.registry],
      collect() {
        this.set(pool.capacity);
      },
    });
    new Gauge({
      name: "tenantgate_descriptor_limit",
      help: "The process's open-file limit (ulimit -n); the pool uses at most half, 3 descriptors per file",
      registers: [this.registry],
      collect() {
        this.set(openFileLimit());
      },
    });
    new Gauge({
      name: "tenantgate_tenant_file_descriptors",
      help: "Descriptors held by open tenant files (3 each in WAL mode)",
      registers: [this.registry],
      collect() {
        this.set(pool.openCount * DESCRIPTORS_PER_HANDLE);
      },
    });
  }

  /** Hooks the outbox relay calls as it applies and fails. */
  relayObserver(): RelayObserver {
    const lag = new Histogram({
      name: "tenantgate_sync_lag_events",
      help: "Outbox events a tenant was behind when the relay applied its batch",
      buckets: [0, 1, 2, 5, 10, 25, 50, 100, 250, 1000, 10000],
      registers: [this.registry],
    });
    const apply = new Histogram({
      name: "tenantgate_sync_apply_seconds",
      help: "Time to apply one batch to one tenant file",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers: [this.registry],
    });
    const failures = new Counter<"reason">({
      name: "tenantgate_sync_failures_total",
      help: "Failed applies to a tenant file, by reason (busy, missing, corrupt, schema, other)",
      labelNames: ["reason"],
      registers: [this.registry],
    });
    return {
      applied: (_tenant: string, events: number, seconds: number) => {
        lag.observe(events);
        apply.observe(seconds);
      },
      failed: (_tenant: string, reason: FailureReason) => failures.inc({ reason }),
    };
  }

  /** Gauges read from the relay at scrape time. */
  watchTokens(verifier: Pick<TokenVerifier, "verifications">): void {
    new Counter({
      name: "tenantgate_token_verifications_total",
      help: "Tokens verified in full (known tokens are not verified again), by outcome: accepted, refused (401), unavailable (the keys could not be fetched)",
      labelNames: ["outcome"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [outcome, n] of Object.entries(verifier.verifications)) this.inc({ outcome }, n);
      },
    });
  }

  watchRelay(relay: OutboxRelay): void {
    new Gauge({
      name: "tenantgate_outbox_head",
      help: "The newest outbox seq on the control plane",
      registers: [this.registry],
      async collect() {
        this.set(await relay.head());
      },
    });
    new Gauge({
      name: "tenantgate_sync_tenants",
      help: "Child tenants by sync state (in_sync, lagging, failing, unavailable)",
      labelNames: ["state"],
      registers: [this.registry],
      async collect() {
        const s = await relay.summary();
        for (const state of ["in_sync", "lagging", "failing", "unavailable"] as const) this.set({ state }, s[state]);
      },
    });
    new Gauge({
      name: "tenantgate_relay_lease",
      help: "1 when this gateway holds the lease that runs the outbox relay (one gateway of those sharing a control plane), else 0",
      registers: [this.registry],
      async collect() {
        this.set((await relay.holder())?.this_gateway ? 1 : 0);
      },
    });
    new Gauge({
      name: "tenantgate_relay_lease_expiry_seconds",
      help: "Seconds until the relay's lease lapses unless its holder (whichever gateway) renews it; negative once lapsed",
      registers: [this.registry],
      async collect() {
        const holder = await relay.holder();
        if (holder) this.set((Date.parse(holder.expires_at) - Date.now()) / 1000);
      },
    });
    new Gauge({
      name: "tenantgate_sync_oldest_lag_seconds",
      help: "Age of the oldest outbox event some tenant has not applied",
      registers: [this.registry],
      async collect() {
        this.set((await relay.summary()).oldest_lag_seconds);
      },
    });
  }

  /** Requests counted elsewhere (the front door's thread). */
  add(tally: TallySnapshot): void {
    this.tally.add(tally);
  }

  /** One answered request. */
  observe(routeClass: RouteClass, status: number, seconds: number): void {
    this.tally.observe(routeClass, status, seconds);
  }

  /** `gather` is awaited before each scrape. */
  gatherBeforeScrape(gather: () => Promise<void>): void {
    this.pending.push(gather);
  }

  async text(): Promise<string> {
    await Promise.all(this.pending.map((gather) => gather()));
    return this.registry.metrics();
  }
}

/**
 * `tenantgate_http_request_duration_seconds`: a Prometheus histogram by route class, read from the
 * tally and exported in prom-client's metric shape when the registry is scraped.
 */
class RequestDurations {
  readonly name = "tenantgate_http_request_duration_seconds";
  readonly help = "Time to answer, by route class (headers sent, for proxied requests)";
  readonly type = "histogram";
  readonly aggregator = "sum";

  constructor(private readonly tally: RequestTally) {}

  get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const [cls, c] of this.tally.durations) {
      let cumulative = 0;
      DURATION_BUCKETS.forEach((le, i) => {
        cumulative += c.buckets[i] as number;
        values.push({ labels: { le, class: cls }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: "+Inf", class: cls }, value: c.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { class: cls }, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { class: cls }, value: c.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {}
}
