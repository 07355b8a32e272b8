/** Polls `probe` every 25 ms until `check` holds and returns that value; throws with the last value seen. */
export async function until<T>(what: string, probe: () => T | Promise<T>, check: (v: T) => boolean, timeoutMs = 2500): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (check(value)) return value;
    if (performance.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await Bun.sleep(25);
  }
}
