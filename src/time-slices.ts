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
 */
export function timeSlices(ms = SLICE_MS): () => Promise<void> | undefined {
  let started = performance.now();
  return () => {
    if (performance.now() - started <= ms) return undefined;
    return new Promise<void>((resume) =>
      setImmediate(() => {
        started = performance.now();
        resume();
      }),
    );
  };
}
