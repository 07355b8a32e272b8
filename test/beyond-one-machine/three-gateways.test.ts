import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { LibsqlDb, SqldAdmin } from "../../src/storage/libsql.ts";
import { run, serve, tempDir, type Served } from "../cli/spawn.ts";
import { startRecordingUpstream, type RecordingUpstream } from "../support/proxy-upstream.ts";
import { startSqld, type Sqld } from "../support/sqld.ts";
import { controlPlaneRole as writeControlPlaneRole, dbFlags as sharedDbFlags, devToken, eventually, gatewayApi, onHost, stopEverything, systemRolesIn } from "../support/sqld-gateways.ts";

// Three gateways, each its own process, on one real sqld: tenants are namespaces, the control plane
// is one, and the gateways share a data directory only for the dev signing key (their tokens). Each
// runs under a host name of its own (a UTS namespace), so none can see whether another's process
// lives: they know each other only by the leases, as gateways on three machines do.
// One relay runs at a time (a lease every grant of which is recorded here); its holder is killed
// and replaced; every tenant converges; a tenant made through one gateway is routed by another; an
// operation a killed process left is finished by a gateway.

setDefaultTimeout(60_000);

let sqld: Sqld;
let upstream: RecordingUpstream;
let dir: string;
let token: string;
const gateways: Served[] = [];
const LEASE_SECONDS = 3;

const dbFlags = () => sharedDbFlags(sqld);

async function startGateway(n: number): Promise<Served> {
  const g = await serve(dir, [...dbFlags(), "--upstream", upstream.url, "--sync-lease-seconds", String(LEASE_SECONDS), "--sync-poll-seconds", "1", "--rescan-seconds", "1"], {}, onHost(`gateway-${n}`));
  gateways[n] = g;
  return g;
}

const api = (g: Served, path: string, init: RequestInit = {}, host = "localhost") => gatewayApi(g, token, path, init, host);
const until = eventually;

/** Every grant of the relay's lease seen, by polling its row: holder, when granted, until when. */
const grants: { holder: string; grantedAt: number; expiresAt: number }[] = [];
let watching = true;
async function recordGrants(): Promise<void> {
  const cp = new LibsqlDb({ url: sqld.url }, "control_plane");
  while (watching) {
    const row = await cp.get<{ holder: string; granted_at: number; expires_at: number }>("SELECT holder, granted_at, expires_at FROM tenantgate_leases WHERE name = 'outbox-relay'").catch(() => undefined);
    if (row) {
      const last = grants.at(-1);
      if (!last || last.holder !== row.holder || last.grantedAt !== Number(row.granted_at)) grants.push({ holder: row.holder, grantedAt: Number(row.granted_at), expiresAt: Number(row.expires_at) });
      else last.expiresAt = Number(row.expires_at);
    }
    await Bun.sleep(25);
  }
}

const pidOf = (holder: string) => (JSON.parse(holder) as { pid: number }).pid;

const rolesIn = (namespace: string) => systemRolesIn(sqld, namespace);
const controlPlaneRole = (id: string) => writeControlPlaneRole(sqld, id);

beforeAll(async () => {
  sqld = await startSqld();
  upstream = startRecordingUpstream();
  dir = tempDir("tenantgate-three-");
  await Promise.all([startGateway(0), startGateway(1), startGateway(2)]);
  token = await devToken(dir, sqld);
  void recordGrants();
});

afterAll(async () => {
  watching = false;
  await stopEverything({ gateways, upstream, sqld, dir });
});

test("one relay among three gateways: all name the same holder, one of them says it is it", async () => {
  const views = await until(
    "a relay holder",
    () => Promise.all(gateways.map(async (g) => (await (await api(g, "/api/v2/sync")).json()) as { relay: { holder: string; this_gateway: boolean } | null })),
    (vs) => vs.every((v) => v.relay !== null),
  );
  expect(new Set(views.map((v) => v.relay?.holder)).size).toBe(1);
  expect(views.filter((v) => v.relay?.this_gateway)).toHaveLength(1);
  expect(gateways.map((g) => g.proc.pid)).toContain(pidOf(views[0]?.relay?.holder as string));
});

test("tenants made through different gateways are served by every gateway, and a control-plane change reaches all of them", async () => {
  const ids = ["acme", "beta", "gamma"];
  for (const [i, id] of ids.entries()) {
    const res = await api(gateways[i] as Served, "/api/v2/tenants", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id, friendly_name: id }) });
    expect(res.status).toBe(201);
  }
  // Routed by every gateway within a few seconds (each polls the control plane's change counter).
  for (const g of gateways)
    for (const id of ids) {
      const res = await until(`${id} routed by ${g.url}`, () => fetch(new URL("/authorize", g.url), { headers: { host: `${id}.localhost` } }), (r) => r.status === 200);
      expect(((await res.json()) as { tenant: string }).tenant).toBe(id);
    }
  await controlPlaneRole("rol_one");
  for (const id of ids) await until(`rol_one in ${id}`, () => rolesIn(id), (r) => r.includes("rol_one"));
  // Every gateway, the two that do not run the relay too, reports what the one that does wrote.
  for (const g of gateways)
    await until(`${g.url} reports the tenants in sync`, async () => (await (await api(g, "/api/v2/sync")).json()) as { in_sync: number }, (v) => v.in_sync === ids.length);
});

test("the holder killed with SIGKILL is replaced within the lease time; the next change converges; no two grants overlap", async () => {
  const holder = grants.at(-1)?.holder as string;
  const victim = gateways.find((g) => g.proc.pid === pidOf(holder)) as Served;
  const killedAt = Date.now();
  victim.proc.kill("SIGKILL");
  await victim.proc.exited;
  const next = await until("another holder", async () => grants.at(-1), (g) => g !== undefined && g.holder !== holder, (LEASE_SECONDS + 5) * 1000);
  const tookMs = (next?.grantedAt ?? 0) - killedAt;
  console.log(`relay holder killed; replaced after ${tookMs} ms (lease ${LEASE_SECONDS} s)`);
  // Not before its lease lapsed (the others cannot see its process is gone), and soon after.
  expect(next?.grantedAt).toBeGreaterThanOrEqual(grants.find((g) => g.holder === holder)?.expiresAt ?? Number.POSITIVE_INFINITY);
  expect(tookMs).toBeLessThan((LEASE_SECONDS + LEASE_SECONDS / 3 + 2) * 1000);
  await controlPlaneRole("rol_two");
  for (const id of ["acme", "beta", "gamma"]) await until(`rol_two in ${id}`, () => rolesIn(id), (r) => r.includes("rol_two"));
  // Every grant began only after the one before it lapsed (or was handed back): never two holders.
  for (let i = 1; i < grants.length; i++) expect((grants[i] as { grantedAt: number }).grantedAt).toBeGreaterThanOrEqual((grants[i - 1] as { expiresAt: number }).expiresAt - 1);
});

test("a create killed after registering is finished by a live gateway; a tenant deleted through one is gone from all", async () => {
  const live = gateways.filter((g) => g.proc.exitCode === null && !g.proc.signalCode);
  const host = `gateway-${gateways.indexOf(live[0] as Served)}`;
  // `tenants create` beside that gateway, on its host, killed once the control plane lists the tenant.
  const crashed = await run(["tenants", "create", "delta", "--dev", "--data-dir", dir, "--log-level", "warn", ...dbFlags()], { TENANTGATE_CRASH_AT: "create:registered" }, onHost(host));
  expect(crashed.signal, crashed.stderr).toBe("SIGKILL");
  // That gateway's rescan sees the process is gone, claims its operation and rolls it forward.
  const ops = await until(
    "delta's create finished",
    async () => (await (await api(live[1] as Served, "/api/v2/tenants/delta/operations")).json()) as { kind: string; state: string; steps: { step: string }[] }[],
    (o) => o[0]?.state === "done",
  );
  expect(ops[0]?.steps.map((s) => s.step)).toEqual(["file-built", "registered", "renamed"]);
  for (const g of live) await until(`delta served by ${g.url}`, () => fetch(new URL("/authorize", g.url), { headers: { host: "delta.localhost" } }), (r) => r.status === 200);

  expect((await api(live[0] as Served, "/api/v2/tenants/beta", { method: "DELETE" })).status).toBe(204);
  for (const g of live) await until(`beta gone from ${g.url}`, () => fetch(new URL("/authorize", g.url), { headers: { host: "beta.localhost" } }), (r) => r.status === 404);
  expect(await new SqldAdmin(sqld.adminUrl).exists("beta")).toBe(false);
});
