import { afterAll, beforeAll, expect, test } from "bun:test";
import { startGateway, type TestGateway } from "../support/gateway.ts";

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(() => gw.stop());

test("a control-plane admin provisions a tenant and the subdomain routes to it", async () => {
  const token = await gw.token();
  const res = await gw.request("localhost", "/api/v2/tenants", {
    method: "POST",
    token,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: "acme", friendly_name: "Acme" }),
  });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { id: string; organization_id: string; status: string };
  expect(body.id).toBe("acme");
  expect(body.organization_id).toMatch(/^org_[A-Za-z0-9]{17}$/);
  expect(body.status).toBe("ready");
  expect(await Bun.file(`${gw.dataDir}/tenants/acme.sqlite`).exists()).toBe(true);
});
