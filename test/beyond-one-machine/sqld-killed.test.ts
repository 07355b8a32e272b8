import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { LibsqlDb } from "../../src/storage/libsql.ts";
import { serve, tempDir, type Served } from "../cli/spawn.ts";
import { startRecordingUpstream, type RecordingUpstream } from "../support/proxy-upstream.ts";
import { startSqld, type Sqld } from "../support/sqld.ts";
import { alive, controlPlaneRole, dbFlags, devToken, eventually, gatewayApi, onHost, stopEverything, systemRolesIn } from "../support/sqld-gateways.ts";

// The database server crashes under load: two gateway processes on one real sqld, a writer making
// control-plane changes (roles, as AuthHero writes them, and tenant settings through the gateways)
// and tenant requests, and sqld killed with SIGKILL in the middle of it. While it is down every
// request is answered (503 for what needs the database, never a hang, never a gateway crash); once
// it is back every acknowledged write is there, both gateways recover by themselves, the tenants
// converge, and no tenant is ever reported in sync whose namespace is not.

setDefaultTimeout(60_000);

let sqld: Sqld;
let upstream: RecordingUpstream;
let dir: string;
let token: string;
const gateways: Served[] = [];
const TENANTS = ["acme", "beta", "gamma", "delta"];
/** No request may take longer than this: one that does is a hang. */
const ANSWER_WITHIN_MS = 5_000;

type Phase = "up" | "down" | "back";
let phase: Phase = "up";

interface Answer {
  what: string;
  gateway: number;
  /** The phase when it was sent and when it was answered (the down phase counts only when both are). */
  sent: Phase;
  answered: Phase;
  status: number | "no answer";
  body: string;
}
const answers: Answer[] = [];

/** The writes that were acknowledged: roles by sqld, settings by a gateway (the friendly_name's counter per tenant). */
const ackedRoles: string[] = [];
const ackedNames = new Map<string, number>();

/** A request to gateway `n`, recorded with its phase and answer; "no answer" when it failed or took too long. */
async function ask(n: number, what: string, path: string, init: RequestInit = {}, host = "localhost"): Promise<Answer> {
  const sent = phase;
  let status: Answer["status"] = "no answer";
  let body = "";
  try {
    const res = await gatewayApi(gateways[n] as Served, token, path, { ...init, signal: AbortSignal.timeout(ANSWER_WITHIN_MS) }, host);
    status = res.status;
    body = await res.text();
  } catch (err) {
    body = String(err);
  }
  const a: Answer = { what, gateway: n, sent, answered: phase, status, body };
  answers.push(a);
  return a;
}

/** The writer: rounds of one control-plane role, one settings change, a routed request, a tenant read and a readiness probe. */
let writing = true;
let rounds = 0;
async function writer(): Promise<void> {
  const cp = new LibsqlDb({ url: sqld.url }, "control_plane");
  for (let n = 0; writing; n++) {
    const g = n % 2;
    const tenant = TENANTS[n % TENANTS.length] as string;
    const role = `rol_w${n}`;
    await cp
      .run("INSERT INTO roles (id, tenant_id, name, description, created_at, updated_at) VALUES (?, 'control_plane', ?, 'synced', '', '')", [role, `role ${role}`])
      .then(() => ackedRoles.push(role), () => {});
    const patched = await ask(g, "settings", `/api/v2/tenants/${tenant}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ friendly_name: `${tenant} v${n}` }) });
    if (patched.status === 200) ackedNames.set(tenant, n);
    const routed = await ask(g, "routed", "/authorize", {}, `${tenant}.localhost`);
    if (routed.status === 200) expect((JSON.parse(routed.body) as { tenant: string }).tenant).toBe(tenant);
    await ask(g, "tenant", `/api/v2/tenants/${tenant}`);
    await ask(g, "readyz", "/readyz");
    rounds++;
  }
}

/** Role ids the control plane's outbox captured up to `head` (the writer only inserts roles). */
async function rolesUpTo(head: number): Promise<string[]> {
  const cp = new LibsqlDb({ url: sqld.url }, "control_plane");
  const rows = await cp.all<{ entity_id: string }>("SELECT entity_id FROM tenantgate_outbox WHERE entity = 'role' AND seq <= ?", [head]);
  return rows.map((r) => r.entity_id);
}

/**
 * The sampler: asks both gateways for every tenant's sync and for the summary, and checks each
 * claim of in_sync against the namespace (read after the claim: roles are only ever added, so what
 * the namespace held then it holds now). A claim made while sqld is down is checked once it is back.
 */
let sampling = true;
const claims = { tenantInSync: 0, summaryInSync: 0, checked: 0 };
const falseClaims: string[] = [];
async function sampler(): Promise<void> {
  while (sampling) {
    for (const n of [0, 1]) {
      for (const id of TENANTS) {
        const a = await ask(n, "sync", `/api/v2/tenants/${id}/sync`);
        if (a.status !== 200) continue;
        const s = JSON.parse(a.body) as { state: string; head: number };
        if (s.state !== "in_sync") continue;
        claims.tenantInSync++;
        const [owed, held] = await eventually(`${id}'s namespace readable`, () => Promise.all([rolesUpTo(s.head), systemRolesIn(sqld, id)]), () => true);
        const missing = owed.filter((r) => !held.includes(r));
        claims.checked++;
        if (missing.length > 0) falseClaims.push(`gateway ${n} said ${id} in_sync at head ${s.head}; its namespace lacks ${missing.join(", ")}`);
      }
      const a = await ask(n, "sync summary", "/api/v2/sync");
      if (a.status !== 200) continue;
      const sum = JSON.parse(a.body) as { head: number; tenants: number; in_sync: number };
      if (sum.in_sync === 0 || sum.tenants !== TENANTS.length) continue;
      claims.summaryInSync++;
      const owed = await eventually("the outbox readable", () => rolesUpTo(sum.head), () => true);
      let really = 0;
      for (const id of TENANTS) {
        const held = await eventually(`${id}'s namespace readable`, () => systemRolesIn(sqld, id), () => true);
        if (owed.every((r) => held.includes(r))) really++;
      }
      claims.checked++;
      if (really < sum.in_sync) falseClaims.push(`gateway ${n} counted ${sum.in_sync} tenants in_sync at head ${sum.head}; ${really} namespaces hold every role`);
    }
  }
}

beforeAll(async () => {
  sqld = await startSqld();
  upstream = startRecordingUpstream();
  dir = tempDir("tenantgate-sqld-killed-");
  const flags = [...dbFlags(sqld), "--upstream", upstream.url, "--sync-lease-seconds", "3", "--sync-poll-seconds", "1", "--rescan-seconds", "1"];
  // One after the other: the first makes the control plane, which the second then finds.
  gateways[0] = await serve(dir, flags, {}, onHost("gateway-0"));
  gateways[1] = await serve(dir, flags, {}, onHost("gateway-1"));
  token = await devToken(dir, sqld);
  for (const [i, id] of TENANTS.entries()) {
    const res = await gatewayApi(gateways[i % 2] as Served, token, "/api/v2/tenants", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id, friendly_name: id }) });
    if (res.status !== 201) throw new Error(`creating ${id}: ${res.status} ${await res.text()}`);
  }
  for (const n of [0, 1])
    for (const id of TENANTS) await eventually(`${id} routed by gateway ${n}`, () => fetch(new URL("/authorize", gateways[n]?.url), { headers: { host: `${id}.localhost` } }), (r) => r.status === 200);
});

afterAll(async () => {
  writing = false;
  sampling = false;
  await stopEverything({ gateways, upstream, sqld, dir });
});

test("sqld SIGKILLed under two gateways and a writer: answered while down, nothing acknowledged lost, both recover and converge, no false in_sync", async () => {
  const pids = gateways.map((g) => g.proc.pid);
  const writing$ = writer();
  const sampling$ = sampler();
  await eventually("acknowledged writes before the crash", async () => [ackedRoles.length, ackedNames.size], ([r, t]) => (r as number) >= 10 && t === TENANTS.length);

  // The crash, and a while of requests with the server gone.
  const rolesBefore = ackedRoles.length;
  await sqld.kill();
  const killedAt = performance.now();
  phase = "down";
  await eventually("requests answered with sqld down", async () => answers.filter((a) => a.sent === "down").length, (n) => n >= 40 && performance.now() - killedAt >= 1_500, 10_000);
  for (const pid of pids) expect(alive(pid)).toBe(true);
  const roundsDown = rounds;
  await sqld.restart();
  const downMs = performance.now() - killedAt;
  phase = "back";

  // Both gateways ready again by themselves.
  const readyMs: number[] = [];
  for (const n of [0, 1]) {
    await eventually(`gateway ${n} ready`, () => fetch(new URL("/readyz", gateways[n]?.url)), (r) => r.status === 200, 20_000);
    readyMs.push(Math.round(performance.now() - killedAt - downMs));
  }
  await eventually("writes acknowledged after the restart", async () => ackedRoles.length, (n) => n >= rolesBefore + 10);
  writing = false;
  await writing$;

  const down = answers.filter((a) => a.sent === "down" && a.answered === "down");
  const tally = (list: Answer[]) => Object.entries(Object.groupBy(list, (a) => `${a.what} ${a.status}`)).map(([k, v]) => `${k}: ${v?.length}`).join(", ");
  console.log(`sqld down ${Math.round(downMs)} ms; gateways ready ${readyMs.join(" and ")} ms after its restart; ${ackedRoles.length} roles and ${[...ackedNames.values()].length} tenants' settings acknowledged over ${rounds} rounds (${roundsDown} by the restart)`);
  console.log(`answers while down (${down.length}): ${tally(down)}`);

  // While down: every request answered; what needs the database is a 503; a routed one may still reach AuthHero.
  expect(answers.filter((a) => a.status === "no answer").map((a) => `${a.what} to ${a.gateway} (${a.sent}): ${a.body}`)).toEqual([]);
  expect(down.length).toBeGreaterThanOrEqual(40);
  for (const a of down) {
    if (a.what === "routed") expect([200, 503], `${a.what}: ${a.body}`).toContain(a.status as number);
    else expect({ what: a.what, status: a.status }).toEqual({ what: a.what, status: 503 });
  }
  for (const pid of pids) expect(alive(pid)).toBe(true);
  for (const g of gateways) expect(g.proc.exitCode).toBeNull();

  // Nothing acknowledged was lost.
  const cp = new LibsqlDb({ url: sqld.url }, "control_plane");
  const roles = new Set((await cp.all<{ id: string }>("SELECT id FROM roles WHERE tenant_id = 'control_plane'")).map((r) => r.id));
  expect(ackedRoles.filter((r) => !roles.has(r))).toEqual([]);
  for (const [tenant, n] of ackedNames) {
    const row = await cp.get<{ friendly_name: string }>("SELECT friendly_name FROM tenants WHERE id = ?", [tenant]);
    // The writer changes a tenant one request at a time: it holds the last acknowledged value or a later one.
    expect(Number(/ v(\d+)$/.exec(row?.friendly_name ?? "")?.[1])).toBeGreaterThanOrEqual(n);
  }

  // New tenants can be made through either gateway, and both route them.
  for (const [n, id] of ["after0", "after1"].entries()) {
    const res = await gatewayApi(gateways[n] as Served, token, "/api/v2/tenants", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id, friendly_name: id }) });
    expect(res.status, await res.clone().text()).toBe(201);
  }
  for (const g of gateways)
    for (const id of ["after0", "after1"]) {
      const res = await eventually(`${id} routed by ${g.url}`, () => fetch(new URL("/authorize", g.url), { headers: { host: `${id}.localhost` } }), (r) => r.status === 200);
      expect(((await res.json()) as { tenant: string }).tenant).toBe(id);
    }

  // Every tenant converges on every role the control plane holds, the acknowledged ones among them.
  const all = [...(await cp.all<{ id: string }>("SELECT id FROM roles WHERE tenant_id = 'control_plane'"))].map((r) => r.id);
  for (const id of [...TENANTS, "after0", "after1"]) await eventually(`every role in ${id}`, () => systemRolesIn(sqld, id), (held) => all.every((r) => held.includes(r)));

  // And the sync API says so, every claim of in_sync it made along the way having been true.
  for (const n of [0, 1]) for (const id of TENANTS) await eventually(`${id} in_sync by gateway ${n}`, async () => (await (await gatewayApi(gateways[n] as Served, token, `/api/v2/tenants/${id}/sync`)).json()) as { state: string }, (s) => s.state === "in_sync");
  sampling = false;
  await sampling$;
  console.log(`in_sync claims checked against the namespaces: ${claims.tenantInSync} per tenant, ${claims.summaryInSync} summaries`);
  expect(falseClaims).toEqual([]);
  expect(claims.tenantInSync).toBeGreaterThan(0);
});
