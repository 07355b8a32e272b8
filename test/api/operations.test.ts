import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { createTenants, expectError, expectUpstream, startUpstream, type UpstreamDouble } from "../support/upstream.ts";

// What the gateway answers itself on every host: docs, health, readiness, metrics, request ids.

let up: UpstreamDouble;
let gw: TestGateway;

beforeAll(async () => {
  up = startUpstream();
  gw = await startGateway(["--upstream", up.url]);
  await createTenants(gw, ["acme", "beta"]);
});
afterAll(async () => {
  await gw?.stop();
  up?.stop();
});

type OpenApi = {
  openapi: string;
  paths: Record<string, Record<string, { tags?: string[]; responses?: Record<string, { content?: Record<string, { schema?: Record<string, unknown> }> }>; requestBody?: unknown }>>;
};

describe("OpenAPI", () => {
  test("/docs is the UI, with its script and styles served locally (no CDN)", async () => {
    const res = await gw.request("localhost", "/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain('<script src="/docs/assets/swagger-ui-bundle.js"');
    expect(html).toContain('href="/docs/assets/swagger-ui.css"');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/(src|href)="\/\//);
    expect(html).not.toMatch(/cdn|unpkg|jsdelivr|@latest/i);
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThanOrEqual(2);
    for (const ref of refs) expect(ref).toMatch(/^\/docs\/assets\//);
  });

  test.each([
    ["/docs/assets/swagger-ui-bundle.js", "text/javascript", "SwaggerUIBundle"],
    ["/docs/assets/swagger-ui.css", "text/css", ".swagger-ui"],
  ])("%s is served (%s)", async (path, type, marker) => {
    const res = await gw.request("localhost", path);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain(type);
    const text = await res.text();
    expect(text.length).toBeGreaterThan(10_000);
    expect(text).toContain(marker);
  });

  test("/docs is answered on a tenant host too (it is the gateway's)", async () => {
    up.take();
    expect((await gw.request("acme.localhost", "/docs/json")).status).toBe(200);
    expect(up.take()).toEqual([]);
  });

  const routes: [method: string, path: string, codes: string[]][] = [
    ["post", "/api/v2/tenants", ["201", "400", "401", "403", "409"]],
    ["get", "/api/v2/tenants", ["200", "400", "401", "403"]],
    ["get", "/api/v2/tenants/{id}", ["200", "401", "403", "404"]],
    ["patch", "/api/v2/tenants/{id}", ["200", "400", "401", "403", "404"]],
    ["delete", "/api/v2/tenants/{id}", ["204", "400", "401", "403", "404", "409"]],
    ["get", "/api/v2/tenants/{id}/operations", ["200", "401", "403", "404"]],
    ["get", "/api/v2/tenants/{id}/domains", ["200", "401", "403", "404"]],
    ["put", "/api/v2/tenants/{id}/domains/{domain}", ["200", "400", "401", "403", "404", "409"]],
    ["delete", "/api/v2/tenants/{id}/domains/{domain}", ["200", "400", "401", "403", "404"]],
    ["get", "/api/v2/sync", ["200", "401", "403"]],
    ["get", "/api/v2/tenants/{id}/sync", ["200", "401", "403", "404"]],
    ["post", "/api/v2/tenants/{id}/sync", ["200", "401", "403", "404", "503"]],
    ["get", "/api/v2/tenants/{id}/effective-settings", ["200", "401", "403", "404"]],
  ];
  let spec: OpenApi;
  beforeAll(async () => {
    const res = await gw.request("localhost", "/docs/json");
    expect(res.status).toBe(200);
    spec = (await res.json()) as OpenApi;
  });

  test("/docs/json lists exactly the gateway's API routes (no proxy catch-alls, no /settings, no assets)", () => {
    expect(spec.openapi).toMatch(/^3\./);
    const listed = Object.entries(spec.paths)
      .filter(([p]) => p.startsWith("/api/"))
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`))
      .sort();
    expect(listed).toEqual(routes.map(([m, p]) => `${m} ${p}`).sort());
    expect(Object.keys(spec.paths).sort()).toEqual(["/healthz", "/metrics", "/readyz", ...new Set(routes.map(([, p]) => p))].sort());
  });

  test.each(routes)("%s %s documents %p, errors as {statusCode, error, message}", (method, path, codes) => {
    const op = spec.paths[path]?.[method];
    expect(op).toBeDefined();
    expect(op?.tags).toEqual([path.endsWith("sync") ? "sync" : "tenants"]);
    expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(codes));
    for (const code of codes.filter((c) => Number(c) >= 400)) {
      const schema = op?.responses?.[code]?.content?.["application/json"]?.schema as { properties?: Record<string, unknown>; required?: string[] } | undefined;
      expect(Object.keys(schema?.properties ?? {}).sort()).toEqual(["error", "message", "statusCode"]);
      expect([...(schema?.required ?? [])].sort()).toEqual(["error", "message", "statusCode"]);
    }
    if ((method === "post" || method === "patch") && !path.endsWith("sync")) {
      const body = (op?.requestBody as { content?: Record<string, { schema?: { additionalProperties?: boolean; properties?: Record<string, unknown> } }> })?.content?.["application/json"]?.schema;
      expect(body?.additionalProperties).toBe(false);
      expect(Object.keys(body?.properties ?? {})).toContain("friendly_name");
    }
  });
});

describe("health, readiness, metrics", () => {
  test.each(["localhost", "acme.localhost", "zzz.localhost", "a.b.localhost", "example.org", "127.0.0.1"])("/healthz and /readyz answer 200 on %p", async (host) => {
    up.take();
    const health = await gw.request(host, "/healthz");
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await gw.request(host, "/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", control_plane: "control_plane" });
    expect(up.take()).toEqual([]);
  });

  test("a malformed host is refused even for /healthz", async () => {
    await expectError(await gw.request("a b", "/healthz"), 400, "malformed Host header");
  });

  test("/metrics has the request counter, tenant states, the file budget and the descriptor limit", async () => {
    await gw.request("localhost", "/healthz");
    await gw.request("zzz.localhost", "/authorize");
    await expectUpstream(await gw.request("acme.localhost", "/authorize"), "acme");
    const res = await gw.request("localhost", "/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    const value = (series: string): number => {
      const line = text.split("\n").find((l) => l.startsWith(`${series} `));
      if (!line) throw new Error(`no series ${series} in /metrics`);
      const n = Number(line.slice(series.length + 1));
      expect(Number.isFinite(n)).toBe(true);
      return n;
    };
    expect(text).toContain("# TYPE tenantgate_http_requests_total counter");
    expect(value('tenantgate_http_requests_total{class="health",status="200"}')).toBeGreaterThanOrEqual(1);
    expect(value('tenantgate_http_requests_total{class="rejected",status="404"}')).toBeGreaterThanOrEqual(1);
    expect(value('tenantgate_http_requests_total{class="proxy",status="200"}')).toBeGreaterThanOrEqual(1);
    expect(value('tenantgate_http_requests_total{class="tenants-api",status="201"}')).toBe(2);
    expect(value('tenantgate_tenants{state="ready"}')).toBe(2);
    expect(value('tenantgate_tenants{state="missing"}')).toBe(0);
    expect(value('tenantgate_tenants{state="orphan"}')).toBe(0);
    expect(value("tenantgate_open_tenant_files")).toBeGreaterThanOrEqual(0);
    expect(value("tenantgate_tenant_file_budget")).toBeGreaterThanOrEqual(1);
    expect(value("tenantgate_descriptor_limit")).toBeGreaterThan(0);
    expect(value("tenantgate_tenant_file_budget")).toBe(gw.gateway.parts.files!.pool.capacity);
  });
});

describe("x-request-id", () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  test.each([
    ["localhost", "/healthz", 200],
    ["localhost", "/api/v2/tenants", 401],
    ["zzz.localhost", "/authorize", 404],
    ["acme.localhost", "/authorize", 200],
    ["localhost", "/docs/json", 200],
  ])("a response from %s%s (%d) carries a generated id", async (host, path, status) => {
    const res = await gw.request(host, path);
    expect(res.status).toBe(status);
    expect(res.headers.get("x-request-id")).toMatch(UUID);
  });

  test("two requests get two ids", async () => {
    const a = (await gw.request("localhost", "/healthz")).headers.get("x-request-id");
    const b = (await gw.request("localhost", "/healthz")).headers.get("x-request-id");
    expect(a).not.toBe(b);
  });

  test.each(["abc-123", "req.2024:07_x", "a".repeat(128), "0F3A9C2E-1111-4222-8333-444455556666"])("a sane client id %p is echoed, and forwarded", async (id) => {
    const res = await gw.request("acme.localhost", "/authorize", { headers: { "x-request-id": id } });
    expect(res.headers.get("x-request-id")).toBe(id);
    await expectUpstream(res, "acme");
    expect(up.take().at(-1)?.headers["x-request-id"]).toBe(id);
  });

  test.each(["has space", "a".repeat(129), "<script>", "a/b", "id;drop", ""])("an insane client id %p is replaced", async (id) => {
    const res = await gw.request("acme.localhost", "/authorize", { headers: { "x-request-id": id } });
    expect(res.headers.get("x-request-id")).toMatch(UUID);
    await expectUpstream(res, "acme");
    expect(up.take().at(-1)?.headers["x-request-id"]).toBe(res.headers.get("x-request-id") as string);
  });
});
