export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface Durations {
  /** Observations per bucket (not cumulative); the last slot counts those above every bucket. */
  buckets: number[];
  sum: number;
  count: number;
}

/** A tally as plain data, to cross from the front door's thread to the main one. */
export interface TallySnapshot {
  counts: [key: string, n: number][];
  durations: [routeClass: string, d: Durations][];
}

/**
 * Requests answered, counted as plain numbers: by "class status", and durations by route class in
 * the histogram's buckets. prom-client's own counters hash their labels on every call (about 1 µs
 * per request); these are handed to it only when the metrics are scraped.
 */
export class RequestTally {
  readonly counts = new Map<string, number>();
  readonly durations = new Map<string, Durations>();

  observe(routeClass: string, status: number, seconds: number): void {
    const key = `${routeClass} ${status}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const d = this.durationsOf(routeClass);
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[i] as number)) i++;
    d.buckets[i]!++;
    d.sum += seconds;
    d.count++;
  }

  /** Adds another tally's numbers to this one. */
  add(s: TallySnapshot): void {
    for (const [key, n] of s.counts) this.counts.set(key, (this.counts.get(key) ?? 0) + n);
    for (const [cls, other] of s.durations) {
      const d = this.durationsOf(cls);
      other.buckets.forEach((n, i) => (d.buckets[i]! += n));
      d.sum += other.sum;
      d.count += other.count;
    }
  }

  /** The numbers so far, and a fresh start. */
  take(): TallySnapshot {
    const s: TallySnapshot = { counts: [...this.counts], durations: [...this.durations] };
    this.counts.clear();
    this.durations.clear();
    return s;
  }

  private durationsOf(routeClass: string): Durations {
    let d = this.durations.get(routeClass);
    if (!d) this.durations.set(routeClass, (d = { buckets: new Array(DURATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 }));
    return d;
  }
}
