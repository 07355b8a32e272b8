import { afterAll, beforeAll, expect, test } from "bun:test";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { json, startUpstream, type UpstreamDouble } from "../support/upstream.ts";

// The tenants API as a client written for @authhero/multi-tenancy's expects it
// (shared/reference/seed-tenants-api.md §10): the same shapes and statuses, tenantgate's extras aside.

let up: UpstreamDouble;
let gw: TestGateway;
let admin: string;

beforeAll(async () => {
  up = startUpstream();
  gw = await startGateway(["--upstream", up.url]);
  admin = await gw.token();
});
afterAll(async () => {
  await gw.stop();
  up.stop();
});

const call = (method: string, path: string, body?: unknown) => gw.request("localhost", path, { method, token: admin, ...(body === undefined ? {} : json(body)) });

test("POST: 201 with the tenant; without an audience it gets urn:authhero:tenant:{id}, as the seed's provisioning gives", async () => {
  const res = await call("POST", "/api/v2/tenants", { id: "seedy", friendly_name: "Seedy" });
  expect(res.status).toBe(201);
  expect(((await res.json()) as { audience: string }).audience).toBe("urn:authhero:tenant:seedy");
  const own = await call("POST", "/api/v2/tenants", { id: "aud", friendly_name: "Aud", audience: "https://api.aud.test/" });
  expect(((await own.json()) as { audience: string }).audience).toBe("https://api.aud.test/");
});

test("GET: {tenants}, and with include_totals {tenants, start, limit, length}", async () => {
  const plain = (await (await call("GET", "/api/v2/tenants")).json()) as Record<string, unknown>;
  expect(Object.keys(plain)).toEqual(["tenants"]);
  const page = (await (await call("GET", "/api/v2/tenants?include_totals=true&per_page=1")).json()) as Record<string, unknown>;
  expect(page).toMatchObject({ start: 0, limit: 1, length: 2 });
  expect((page.tenants as unknown[]).length).toBe(1);
});

test("DELETE: 204 with an empty body", async () => {
  const res = await call("DELETE", "/api/v2/tenants/seedy");
  expect(res.status).toBe(204);
  expect(await res.text()).toBe("");
  expect((await call("GET", "/api/v2/tenants/seedy")).status).toBe(404);
});
