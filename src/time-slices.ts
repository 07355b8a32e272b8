/**
 * The longest that work over many tenants keeps the main thread before requests get through: a
 * request that arrives meanwhile waits at most this long, against a steady p99 of about 10 ms on
 * the management path.
 */
export const SLICE_MS = 5;

/**
 * Work over thousands of tenants on the main thread, cut into slices of at most `ms` with the event
 * loop let through between them, so requests are answered while it runs:
 *
 *   const slice = timeSlices();
 *   for (const id of ids) { await slice(); ... }
 *
 * `share` is the most of the main thread the work takes while it runs: 1 resumes as soon as the
 * requests waiting have been served; below 1 it also rests, so that background work over every
 * file (a start's first look at each, a rescan) never takes the whole core from the requests.
 */
export function timeSlices(ms = SLICE_MS, share = 1): () => Promise<void> | undefined {
  const restMs = share >= 1 ? 0 : (ms * (1 - share)) / share;
  let started = performance.now();
  return () => {
    if (performance.now() - started <= ms) return undefined;
    return new Promise<void>((resume) => {
      const next = () => {
        started = performance.now();
        resume();
      };
      if (restMs > 0) setTimeout(next, restMs);
      else setImmediate(next);
    });
  };
}

/** The share of the main thread that looks over every tenant's database in the background may take. */
export const BACKGROUND_SHARE = 0.5;
