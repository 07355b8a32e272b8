// The front door runs on a thread of its own and keeps what the main thread told it (which tenant a
// host names, whom a token speaks for) while the registry's generation stands. These tests change
// what it was told, in every way the gateway can learn of it, and check that the very next
// requests are answered by the new facts: through a real gateway, a recording upstream, real files.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import pino from "pino";
import { Gateway } from "../../src/app.ts";
import { loadConfig } from "../../src/config/index.ts";
import { startGateway, tempDataDir, type TestGateway } from "../support/gateway.ts";
import { startRecordingUpstream, type RecordingUpstream } from "../support/proxy-upstream.ts";
import { createTenants, rawDevToken, rawRequest, waitFor } from "../support/upstream.ts";

let up: RecordingUpstream;
let gw: TestGateway;

beforeAll(async () => {
  up = startRecordingUpstream();
  // No periodic rescan: it would move the generation every second and hide a stale answer.
  gw = await startGateway(["--upstream", up.url, "--rescan-seconds", "3600"]);
});

afterAll(async () => {
  await gw.stop();
  up.stop();
});

/**
 * GET through the front door, on a connection of its own (a pooled one that carried a request the
 * front door handed over stays with the gateway's HTTP server); the status, and whether the upstream
 * saw it.
 */
async function get(host: string, path: string, token?: string): Promise<{ status: number; forwarded: boolean }> {
  up.take();
  const res = await rawRequest(gw.gateway.port, path, { host, ...(token ? { authorization: `Bearer ${token}` } : {}) });
  return { status: res.status, forwarded: up.take().length > 0 };
}

test("a tenant deleted through the API is refused from the next request on; the upstream sees nothing", async () => {
  await createTenants(gw, ["gone"]);
  expect(await get("gone.localhost", "/authorize")).toEqual({ status: 200, forwarded: true });
  expect(await get("gone.localhost", "/authorize")).toEqual({ status: 200, forwarded: true });
  const del = await gw.request("localhost", "/api/v2/tenants/gone", { method: "DELETE", token: await gw.token() });
  expect(del.status).toBe(204);
  expect(await get("gone.localhost", "/authorize")).toEqual({ status: 404, forwarded: false });
});

test("a tenant whose file goes missing gets 503 as soon as the gateway notices, without the upstream", async () => {
  await createTenants(gw, ["vanish"]);
  expect(await get("vanish.localhost", "/authorize")).toEqual({ status: 200, forwarded: true });
  rmSync(gw.gateway.parts.files!.pathOf("vanish"));
  await waitFor(async () => (await get("vanish.localhost", "/authorize")).status === 503, 4000, "503 for the missing file");
  expect(await get("vanish.localhost", "/authorize")).toEqual({ status: 503, forwarded: false });
});

test("an organization removed by another process: its token stops being forwarded within the registry's look-again time", async () => {
  await createTenants(gw, ["orgless"]);
  const token = await gw.orgToken("orgless", ["read:users"]);
  expect(await get("orgless.localhost", "/api/v2/users", token)).toEqual({ status: 200, forwarded: true });
  const other = new Database(gw.gateway.parts.cp.path);
  try {
    other.exec("PRAGMA busy_timeout = 5000");
    other.query("DELETE FROM organizations WHERE name = 'orgless'").run();
  } finally {
    other.close();
  }
  const since = Date.now();
  await waitFor(async () => !(await get("orgless.localhost", "/api/v2/users", token)).forwarded, 2000, "the token to be refused");
  // The registry looks at the control plane at most every 250 ms; the front door is told at once.
  expect(Date.now() - since).toBeLessThan(1000);
  expect((await get("orgless.localhost", "/api/v2/users", token)).forwarded).toBe(false);
});

test("a token forwarded a moment ago is refused once it is past its expiry and the clock tolerance (401)", async () => {
  await createTenants(gw, ["brief"]);
  const org = await gw.gateway.parts.cp.organizationOf("brief");
  // Expired 58 s ago: inside the 60 s clock tolerance for 2 s more.
  const token = await rawDevToken(gw, { org_id: org?.id, permissions: ["read:users"] }, { expOffsetSec: -58 });
  expect(await get("brief.localhost", "/api/v2/users", token)).toEqual({ status: 200, forwarded: true });
  expect(await get("brief.localhost", "/api/v2/users", token)).toEqual({ status: 200, forwarded: true });
  await Bun.sleep(2100);
  expect(await get("brief.localhost", "/api/v2/users", token)).toEqual({ status: 401, forwarded: false });
});

test("the front door's thread dies: a new one listens on the same port and forwards again", async () => {
  await createTenants(gw, ["phoenix"]);
  const port = gw.gateway.port;
  const counted = async () => Number(/tenantgate_http_requests_total\{class="proxy",status="200"\} (\d+)/.exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1] ?? 0);
  const before = await counted();
  for (let i = 0; i < 3; i++) expect(await get("phoenix.localhost", "/authorize")).toEqual({ status: 200, forwarded: true });
  // The thread hands its counts over every second: those older than that survive it.
  await Bun.sleep(1200);
  // As if the thread had crashed: it ends without being asked to.
  (gw.gateway as unknown as { front: { worker: Worker } }).front.worker.terminate();
  await waitFor(
    async () => {
      try {
        return (await get("phoenix.localhost", "/authorize")).status === 200;
      } catch {
        return false; // refused while no thread listens
      }
    },
    4000,
    "the front door to listen again",
  );
  expect(gw.gateway.port).toBe(port);
  expect(await get("phoenix.localhost", "/authorize")).toEqual({ status: 200, forwarded: true });
  expect(await counted()).toBeGreaterThanOrEqual(before + 4);
});

test("a port already taken: listen() rejects with the address, and the gateway closes cleanly", async () => {
  const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const dataDir = tempDataDir();
  const { config } = loadConfig({ argv: ["--dev", "--host", "127.0.0.1", "--port", String(taken.port), "--data-dir", dataDir, "--upstream", up.url], env: {} });
  const blocked = await Gateway.open(config, pino({ level: "silent" }));
  try {
    await expect(blocked.listen()).rejects.toThrow(`cannot listen on 127.0.0.1:${taken.port}`);
  } finally {
    await blocked.close();
    taken.stop(true);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
