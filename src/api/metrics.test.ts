import { expect, test } from "bun:test";
import { GatewayMetrics } from "./metrics.ts";
import type { HandlePool } from "../storage/pool.ts";
import type { TenantRegistry } from "../tenancy/registry.ts";

// Only the request series are scraped here; the gauges read these (unused) doubles at scrape time.
const tenants = { counts: () => ({}) } as unknown as TenantRegistry;
const pool = { openCount: 0, capacity: 1 } as unknown as HandlePool;

test("request counts and durations come out as Prometheus series: cumulative buckets, a value on a bound in that bucket", async () => {
  const m = new GatewayMetrics(tenants, pool);
  m.observe("proxy", 200, 0.0005); // on the first bound
  m.observe("proxy", 200, 0.0007);
  m.observe("proxy", 502, 0.3);
  m.observe("proxy", 200, 12); // beyond the last bound: +Inf only
  m.observe("health", 200, 0.0001);
  const text = await m.text();
  const series = (name: string) => Number(text.split("\n").find((l) => l.startsWith(`${name} `))?.slice(name.length + 1));

  expect(series('tenantgate_http_requests_total{class="proxy",status="200"}')).toBe(3);
  expect(series('tenantgate_http_requests_total{class="proxy",status="502"}')).toBe(1);
  expect(series('tenantgate_http_requests_total{class="health",status="200"}')).toBe(1);
  const bucket = (le: string) => series(`tenantgate_http_request_duration_seconds_bucket{le="${le}",class="proxy"}`);
  expect([bucket("0.0005"), bucket("0.001"), bucket("0.25"), bucket("0.5"), bucket("10"), bucket("+Inf")]).toEqual([1, 2, 2, 3, 3, 4]);
  expect(series('tenantgate_http_request_duration_seconds_count{class="proxy"}')).toBe(4);
  expect(series('tenantgate_http_request_duration_seconds_sum{class="proxy"}')).toBeCloseTo(12.3012, 6);
  expect(text).toContain("# TYPE tenantgate_http_request_duration_seconds histogram");

  // A second scrape reports the same totals (the counter is rebuilt from the counts, not added to).
  expect(await m.text()).toBe(text);
});
