import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { createTenants, expectError, expectUpstream, json, startUpstream, type UpstreamDouble } from "../support/upstream.ts";

// The tenants API on the control-plane host, through real HTTP, with exact statuses and messages.

interface Tenant {
  id: string;
  friendly_name: string | null;
  organization_id: string | null;
  status: string;
  created_at: string;
  updated_at: string;
  operation_id?: string;
}
interface Page {
  tenants: Tenant[];
  start: number;
  limit: number;
  length: number;
  total: number;
}
interface Op {
  id: string;
  tenant_id: string;
  kind: string;
  state: string;
  steps: { step: string; at: string; outcome: string }[];
  error: string | null;
  started_at: string;
  finished_at: string | null;
}

let up: UpstreamDouble;
let gw: TestGateway;
let admin: string;
const tenantsDir = () => join(gw.dataDir, "tenants");

beforeAll(async () => {
  up = startUpstream();
  gw = await startGateway(["--upstream", up.url]);
  admin = await gw.token();
  await createTenants(gw, ["beta"]);
});
afterAll(async () => {
  await gw?.stop();
  up?.stop();
});

const post = (body: unknown, token: string | undefined = admin, host = "localhost") =>
  gw.request(host, "/api/v2/tenants", { method: "POST", token, ...json(body) });

describe("POST /api/v2/tenants", () => {
  test("201 with the tenant, its organization, status ready and the operation id", async () => {
    const res = await post({ id: "acme", friendly_name: "Acme", support_email: "help@acme.test" });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Tenant & Record<string, unknown>;
    expect(body).toMatchObject({ id: "acme", friendly_name: "Acme", status: "ready", support_email: "help@acme.test" });
    expect(body.organization_id).toMatch(/^org_[A-Za-z0-9]{17}$/);
    expect(body.operation_id).toMatch(/^op_[A-Za-z0-9]{17}$/);
    expect(new Date(body.created_at).toISOString()).toBe(body.created_at);
    expect((await gw.gateway.parts.cp.organizationOf("acme"))?.id).toBe(body.organization_id as string);
    expect(existsSync(join(tenantsDir(), "acme.sqlite"))).toBe(true);
  });

  test("without an id one is generated (t- and 10 characters)", async () => {
    const res = await post({ friendly_name: "Nameless" });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Tenant;
    expect(body.id).toMatch(/^t-[a-z0-9]{10}$/);
    expect(body.status).toBe("ready");
    expect(existsSync(join(tenantsDir(), `${body.id}.sqlite`))).toBe(true);
  });

  test("the longest and shortest DNS labels are accepted", async () => {
    for (const id of ["x".repeat(63), "z", "a1-b2"]) expect((await post({ id, friendly_name: id })).status).toBe(201);
  });

  const invalidIds: [id: string, fragment: string][] = [
    ["../x", 'tenant id "../x" is not a DNS label'],
    ["ACME", 'tenant id "ACME" is not a DNS label'],
    ["a.b", 'tenant id "a.b" is not a DNS label'],
    ["-a", 'tenant id "-a" is not a DNS label'],
    ["a-", 'tenant id "a-" is not a DNS label'],
    ["a".repeat(64), "tenant id is 64 characters long; at most 63 are allowed"],
    ["", "tenant id is required"],
    ["control_plane", '"control_plane" is the control plane\'s id'],
    ["www", 'tenant id "www" is reserved'],
    ["control-plane", 'tenant id "control-plane" is reserved'],
    ["ümlaut", 'tenant id "ümlaut" is not a DNS label'],
    ["%2e%2e", 'tenant id "%2e%2e" is not a DNS label'],
    ["a/b", "is not a DNS label"],
    [" acme", "is not a DNS label"],
    ["a_b", "is not a DNS label"],
    ["acme\n", 'tenant id "acme?" is not a DNS label'],
  ];
  test.each(invalidIds)("id %p → 400", async (id, fragment) => {
    const before = readdirSync(tenantsDir()).sort();
    await expectError(await post({ id, friendly_name: "Bad" }), 400, fragment);
    expect(readdirSync(tenantsDir()).sort()).toEqual(before);
    if (id !== "control_plane") expect(await gw.gateway.parts.cp.tenant(id)).toBeUndefined();
  });

  const badBodies: [what: string, body: unknown, fragments: string[]][] = [
    ["unknown field", { id: "okname", friendly_name: "Ok", plan: "gold" }, ["invalid body", "plan"]],
    ["missing friendly_name", { id: "okname" }, ["invalid body", "friendly_name"]],
    ["empty friendly_name", { id: "okname", friendly_name: "" }, ["invalid body", "friendly_name"]],
    ["friendly_name not a string", { id: "okname", friendly_name: 7 }, ["invalid body", "friendly_name"]],
    ["id not a string", { id: 7, friendly_name: "Ok" }, ["invalid body", "id"]],
    ["array body", [{ id: "okname", friendly_name: "Ok" }], ["invalid body"]],
  ];
  test.each(badBodies)("%s → 400 naming the field", async (_what, body, fragments) => {
    await expectError(await post(body), 400, ...fragments);
    expect(await gw.gateway.parts.cp.tenant("okname")).toBeUndefined();
  });

  test("a body that is not JSON → 400", async () => {
    const res = await gw.request("localhost", "/api/v2/tenants", { method: "POST", token: admin, headers: { "content-type": "application/json" }, body: "{not json" });
    await expectError(res, 400, "the request body is not valid JSON");
  });

  test("a duplicate → 409", async () => {
    await expectError(await post({ id: "acme", friendly_name: "Again" }), 409, 'tenant "acme" already exists');
  });

  test("401 without a token and with a garbage one; nothing is created", async () => {
    await expectError(await post({ id: "anon", friendly_name: "Anon" }, ""), 401, "missing bearer token");
    await expectError(await post({ id: "anon", friendly_name: "Anon" }, "garbage"), 401, "token is malformed");
    await expectError(
      await gw.request("localhost", "/api/v2/tenants", { method: "POST", headers: { authorization: "Basic YTpi", "content-type": "application/json" }, body: JSON.stringify({ id: "anon", friendly_name: "A" }) }),
      401,
      "authorization header must be `Bearer <token>`",
    );
    expect(await gw.gateway.parts.cp.tenant("anon")).toBeUndefined();
  });

  test("403 for an organization token, a tenant's own token, and a token without create:tenants", async () => {
    const org = await gw.orgToken("acme", ["create:tenants"]);
    await expectError(await post({ id: "nope1", friendly_name: "N" }, org), 403, 'token is for tenant "acme" (organization org_', "this request is for the control plane");
    const own = await gw.token({ tenant_id: "acme", permissions: ["create:tenants"] });
    await expectError(await post({ id: "nope2", friendly_name: "N" }, own), 403, 'token is for tenant "acme" (issued by that tenant)', "control plane");
    const reader = await gw.token({ permissions: ["read:tenants", "update:tenants", "delete:tenants"] });
    await expectError(await post({ id: "nope3", friendly_name: "N" }, reader), 403, "token lacks permission create:tenants (or admin:organizations)");
    for (const id of ["nope1", "nope2", "nope3"]) expect(await gw.gateway.parts.cp.tenant(id)).toBeUndefined();
  });

  test("admin:organizations alone may create", async () => {
    const res = await post({ id: "orgadmin", friendly_name: "By admin:organizations" }, await gw.token({ permissions: ["admin:organizations"] }));
    expect(res.status).toBe(201);
  });
});

describe("GET /api/v2/tenants", () => {
  const many = Array.from({ length: 12 }, (_, i) => `bulk-${String(i).padStart(2, "0")}`);
  beforeAll(async () => {
    await createTenants(gw, many);
    for (const [id, name] of [
      ["pct", "100% Pure"],
      ["under", "snake_case Ltd"],
    ] as const)
      expect((await post({ id, friendly_name: name })).status).toBe(201);
  });

  const list = async (query: string, token = admin): Promise<Page> => {
    const res = await gw.request("localhost", `/api/v2/tenants${query}`, { token });
    if (res.status !== 200) throw new Error(`${query}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Page;
  };

  test("an admin sees every child tenant (never the control plane)", async () => {
    const ids = (await list("?per_page=100")).tenants.map((t) => t.id);
    expect(ids).toEqual(expect.arrayContaining(["acme", "beta", "orgadmin", "pct", "under", ...many]));
    expect(ids).not.toContain("control_plane");
    expect(ids).toHaveLength((await gw.gateway.parts.cp.tenantIds()).length - 1);
  });

  test("include_totals pages through with a correct total on every page", async () => {
    const all = (await gw.gateway.parts.cp.tenantIds()).length - 1;
    const seen: string[] = [];
    for (let page = 0; page * 5 < all + 5; page++) {
      const body = await list(`?page=${page}&per_page=5&include_totals=true`);
      // The seed's shape; `length` counts every tenant the token may see, not the page.
      expect(body).toMatchObject({ start: page * 5, limit: 5, length: all, total: all });
      expect(body.tenants.length).toBe(Math.max(0, Math.min(5, all - page * 5)));
      seen.push(...body.tenants.map((t) => t.id));
    }
    expect(seen).toHaveLength(all);
    expect(new Set(seen).size).toBe(all);
    const plain = await list("?page=1&per_page=5");
    expect(Object.keys(plain)).toEqual(["tenants"]);
  });

  const badQueries: [string, string][] = [
    ["?per_page=101", "per_page"],
    ["?per_page=0", "per_page"],
    ["?per_page=ten", "per_page"],
    ["?page=-1", "page"],
    ["?include_totals=perhaps", "include_totals"],
    [`?q=${"x".repeat(256)}`, "q"],
    // Unknown parameters are refused like unknown body fields (as Auth0's management API does).
    ["?per_page=5&sort=id", "sort"],
  ];
  test.each(badQueries)("%s → 400 naming the parameter", async (query, field) => {
    await expectError(await gw.request("localhost", `/api/v2/tenants${query}`, { token: admin }), 400, "invalid query", field);
  });

  test("per_page=100 is allowed", async () => {
    expect((await list("?per_page=100")).tenants.length).toBeGreaterThanOrEqual(17);
  });

  const searches: [q: string, expected: string[]][] = [
    ["bulk-0", many.slice(0, 10)],
    ["bulk-11", ["bulk-11"]],
    ["100%", ["pct"]],
    ["%", ["pct"]],
    ["_", ["under"]],
    ["snake_", ["under"]],
    ["Pure", ["pct"]],
    ["nothing-like-this", []],
  ];
  test.each(searches)("q=%p matches id or friendly_name literally", async (q, expected) => {
    const body = await list(`?per_page=100&include_totals=true&q=${encodeURIComponent(q)}`);
    expect(body.tenants.map((t) => t.id).sort()).toEqual([...expected].sort());
    expect(body.total).toBe(expected.length);
  });

  test("an organization token sees only its tenant; without read:tenants it is refused", async () => {
    const body = await list("?include_totals=true", await gw.orgToken("acme", ["read:tenants"]));
    expect(body.tenants.map((t) => t.id)).toEqual(["acme"]);
    expect(body.total).toBe(1);
    const res = await gw.request("localhost", "/api/v2/tenants", { token: await gw.orgToken("acme", ["update:tenants"]) });
    await expectError(res, 403, "token lacks permission read:tenants (or admin:organizations)");
  });

  test("a tenant's own token sees only that tenant", async () => {
    const body = await list("", await gw.token({ tenant_id: "beta", permissions: ["read:tenants"] }));
    expect(body.tenants.map((t) => t.id)).toEqual(["beta"]);
  });

  test("a user without read:tenants sees the tenants they created, and no others", async () => {
    const alice = await gw.token({ sub: "auth2|alice", permissions: ["create:tenants"] });
    for (const id of ["alice-one", "alice-two"]) expect((await post({ id, friendly_name: id }, alice)).status).toBe(201);
    expect((await list("", alice)).tenants.map((t) => t.id).sort()).toEqual(["alice-one", "alice-two"]);
    const page = await list("?include_totals=true&per_page=1", alice);
    expect(page.total).toBe(2);
    expect(page.tenants).toHaveLength(1);

    const bob = await gw.token({ sub: "auth2|bob", permissions: [] });
    expect((await list("", bob)).tenants).toEqual([]);

    // A machine token (no `|` in sub) is no member of anything: it needs read:tenants.
    const machine = await gw.token({ sub: "m2m-client", permissions: [] });
    await expectError(await gw.request("localhost", "/api/v2/tenants", { token: machine }), 403, "token lacks permission read:tenants");

    // The member may read their own tenant, but not another.
    expect((await gw.request("localhost", "/api/v2/tenants/alice-one", { token: alice })).status).toBe(200);
    await expectError(await gw.request("localhost", "/api/v2/tenants/acme", { token: alice }), 403, 'this request is for tenant "acme"', "organization=acme");
    await expectError(await gw.request("localhost", "/api/v2/tenants/alice-one", { token: bob }), 403, 'this request is for tenant "alice-one"');
  });
});

describe("GET/PATCH /api/v2/tenants/{id}", () => {
  test("GET: admin 200, own organization 200, other organization 403 naming both tenants, unknown 404", async () => {
    const res = await gw.request("localhost", "/api/v2/tenants/acme", { token: admin });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Tenant;
    expect(body).toMatchObject({ id: "acme", friendly_name: "Acme", status: "ready", organization_id: (await gw.gateway.parts.cp.organizationOf("acme"))?.id });

    const own = await gw.request("localhost", "/api/v2/tenants/acme", { token: await gw.orgToken("acme", ["read:tenants"]) });
    expect(own.status).toBe(200);
    expect(((await own.json()) as Tenant).id).toBe("acme");

    const other = await gw.request("localhost", "/api/v2/tenants/acme", { token: await gw.orgToken("beta", ["read:tenants"]) });
    await expectError(other, 403, 'token is for tenant "beta"', 'this request is for tenant "acme"', "organization=acme");

    await expectError(await gw.request("localhost", "/api/v2/tenants/nope", { token: admin }), 404, 'tenant "nope" does not exist');
    await expectError(await gw.request("localhost", "/api/v2/tenants/control_plane", { token: admin }), 404, 'tenant "control_plane" does not exist');
    await expectError(await gw.request("localhost", "/api/v2/tenants/acme"), 401, "missing bearer token");
  });

  test("PATCH updates friendly_name; 400 on an empty body or unknown field; 403 for another tenant", async () => {
    const before = await gw.gateway.parts.cp.tenant("acme");
    await Bun.sleep(2);
    const res = await gw.request("localhost", "/api/v2/tenants/acme", { method: "PATCH", token: admin, ...json({ friendly_name: "Acme Corp" }) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Tenant;
    expect(body).toMatchObject({ id: "acme", friendly_name: "Acme Corp", status: "ready" });
    expect(body.updated_at > (before?.updated_at ?? "")).toBe(true);
    expect((await gw.gateway.parts.cp.tenant("acme"))?.friendly_name).toBe("Acme Corp");

    const ownOrg = await gw.orgToken("acme", ["update:tenants"]);
    const mine = await gw.request("localhost", "/api/v2/tenants/acme", { method: "PATCH", token: ownOrg, ...json({ support_url: "https://acme.test/help" }) });
    expect(mine.status).toBe(200);
    expect(((await mine.json()) as Record<string, unknown>).support_url).toBe("https://acme.test/help");

    await expectError(await gw.request("localhost", "/api/v2/tenants/acme", { method: "PATCH", token: admin, ...json({}) }), 400, "invalid body");
    await expectError(await gw.request("localhost", "/api/v2/tenants/acme", { method: "PATCH", token: admin, ...json({ plan: "gold" }) }), 400, "invalid body", "plan");
    await expectError(await gw.request("localhost", "/api/v2/tenants/acme", { method: "PATCH", token: admin, ...json({ friendly_name: "" }) }), 400, "friendly_name");
    const otherOrg = await gw.orgToken("beta", ["update:tenants"]);
    await expectError(
      await gw.request("localhost", "/api/v2/tenants/acme", { method: "PATCH", token: otherOrg, ...json({ friendly_name: "Hijack" }) }),
      403,
      'token is for tenant "beta"',
      'this request is for tenant "acme"',
    );
    await expectError(await gw.request("localhost", "/api/v2/tenants/acme", { method: "PATCH", token: await gw.orgToken("acme", ["read:tenants"]), ...json({ friendly_name: "X" }) }), 403, "token lacks permission update:tenants");
    await expectError(await gw.request("localhost", "/api/v2/tenants/nope", { method: "PATCH", token: admin, ...json({ friendly_name: "X" }) }), 404, 'tenant "nope" does not exist');
    expect((await gw.gateway.parts.cp.tenant("acme"))?.friendly_name).toBe("Acme Corp");
  });
});

describe("DELETE /api/v2/tenants/{id}", () => {
  beforeAll(() => createTenants(gw, ["gone", "purged"]));

  test("the control plane can never be deleted", async () => {
    await expectError(await gw.request("localhost", "/api/v2/tenants/control_plane", { method: "DELETE", token: admin }), 403, "the control plane can never be deleted");
    expect(existsSync(join(tenantsDir(), "control_plane.sqlite"))).toBe(true);
  });

  test("403 for an organization token (even its own tenant) and without delete:tenants; 404 unknown", async () => {
    await expectError(
      await gw.request("localhost", "/api/v2/tenants/gone", { method: "DELETE", token: await gw.orgToken("gone", ["delete:tenants"]) }),
      403,
      'token is for tenant "gone"',
      "this request is for the control plane",
    );
    await expectError(await gw.request("localhost", "/api/v2/tenants/gone", { method: "DELETE", token: await gw.token({ permissions: ["read:tenants"] }) }), 403, "token lacks permission delete:tenants");
    await expectError(await gw.request("localhost", "/api/v2/tenants/nope", { method: "DELETE", token: admin }), 404, 'tenant "nope" does not exist');
    await expectError(await gw.request("localhost", "/api/v2/tenants/gone?purge=perhaps", { method: "DELETE", token: admin }), 400, "invalid query", "purge");
    expect(await gw.gateway.parts.cp.tenant("gone")).toBeDefined();
  });

  /** DELETE answers 204 as the seed's API does; the operation is the newest in the tenant's history. */
  const deleted = async (path: string): Promise<Op> => {
    const res = await gw.request("localhost", path, { method: "DELETE", token: admin });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    const id = path.split("/")[4]?.split("?")[0] as string;
    expect(res.headers.get("location")).toBe(`/api/v2/tenants/${id}/operations`);
    const ops = (await (await gw.request("localhost", `/api/v2/tenants/${id}/operations`, { token: admin })).json()) as Op[];
    expect(ops[0]?.id).toBe(res.headers.get("operation-id") as string);
    return ops[0] as Op;
  };

  test("204, the operation in the history; the file goes to the trash, the organization and the subdomain go away", async () => {
    await expectUpstream(await gw.request("gone.localhost", "/authorize"), "gone");
    const op = await deleted("/api/v2/tenants/gone");
    expect(op).toMatchObject({ tenant_id: "gone", kind: "delete", state: "done", error: null });
    expect(op.id).toMatch(/^op_/);
    expect(op.steps.map((s) => s.step)).toEqual(["unregistered", "trashed"]);
    expect(op.finished_at).not.toBeNull();

    expect(existsSync(join(tenantsDir(), "gone.sqlite"))).toBe(false);
    const trash = readdirSync(join(tenantsDir(), ".trash")).filter((f) => f.startsWith("gone."));
    expect(trash).toHaveLength(1);
    expect(trash[0]).toMatch(/^gone\.\d{8}T\d{6}Z\.sqlite$/);
    expect(await gw.gateway.parts.cp.organizationOf("gone")).toBeUndefined();
    expect(await gw.gateway.parts.cp.tenant("gone")).toBeUndefined();

    up.take();
    await expectError(await gw.request("gone.localhost", "/authorize"), 404, 'tenant "gone" does not exist');
    expect(up.take()).toEqual([]);
    await expectError(await gw.request("localhost", "/api/v2/tenants/gone", { token: admin }), 404, 'tenant "gone" does not exist');
    await expectError(await gw.request("localhost", "/api/v2/tenants/gone", { method: "DELETE", token: admin }), 404, 'tenant "gone" does not exist');
  });

  test("?purge=true leaves nothing in the trash", async () => {
    const op = await deleted("/api/v2/tenants/purged?purge=true");
    expect(op.steps.map((s) => s.step)).toEqual(["unregistered", "trashed", "purged"]);
    expect(readdirSync(join(tenantsDir(), ".trash")).filter((f) => f.startsWith("purged."))).toEqual([]);
    expect(existsSync(join(tenantsDir(), "purged.sqlite"))).toBe(false);
  });

  test("GET /{id}/operations lists the delete and the create with their steps, newest first", async () => {
    const res = await gw.request("localhost", "/api/v2/tenants/gone/operations", { token: admin });
    expect(res.status).toBe(200);
    const ops = (await res.json()) as Op[];
    expect(ops.map((o) => [o.kind, o.state])).toEqual([
      ["delete", "done"],
      ["create", "done"],
    ]);
    expect(ops[0]?.steps.map((s) => s.step)).toEqual(["unregistered", "trashed"]);
    expect(ops[1]?.steps.map((s) => s.step)).toEqual(["file-built", "registered", "renamed"]);
    for (const op of ops) for (const s of op.steps) expect(s.outcome).toBe("ok");
    expect((ops[1]?.started_at ?? "") <= (ops[0]?.started_at ?? "")).toBe(true);

    await expectError(await gw.request("localhost", "/api/v2/tenants/never/operations", { token: admin }), 404, 'tenant "never" has no history');
    await expectError(await gw.request("localhost", "/api/v2/tenants/acme/operations", { token: await gw.orgToken("beta", ["read:tenants"]) }), 403, 'this request is for tenant "acme"');
  });
});

describe("what the tenants API does not capture", () => {
  test("/api/v2/tenants/settings (GET and PATCH) is forwarded to AuthHero for the control plane", async () => {
    up.take();
    const get = await gw.request("localhost", "/api/v2/tenants/settings?fields=x", { token: admin });
    expect((await expectUpstream(get, "control_plane")).path).toBe("/api/v2/tenants/settings?fields=x");
    const patch = await gw.request("localhost", "/api/v2/tenants/settings", { method: "PATCH", token: admin, ...json({ friendly_name: "CP", unknown_to_us: true }) });
    const echoed = await expectUpstream(patch, "control_plane");
    expect(echoed.method).toBe("PATCH");
    expect(JSON.parse(echoed.body)).toEqual({ friendly_name: "CP", unknown_to_us: true });
    expect(up.take().map((r) => [r.method, r.path, r.headers["tenant-id"]])).toEqual([
      ["GET", "/api/v2/tenants/settings?fields=x", "control_plane"],
      ["PATCH", "/api/v2/tenants/settings", "control_plane"],
    ]);
    await expectError(await gw.request("localhost", "/api/v2/tenants/settings"), 401, "missing bearer token");
    const org = await gw.orgToken("acme", ["read:tenants"]);
    await expectError(await gw.request("localhost", "/api/v2/tenants/settings", { token: org }), 403, 'token is for tenant "acme"', "this request is for the control plane");
    await expectUpstream(await gw.request("acme.localhost", "/api/v2/tenants/settings", { token: org }), "acme");
    expect(up.take()).toHaveLength(1);
  });

  // (null: no body; every row has three entries, or bun passes a done callback in its place)
  const onTenantHost: [method: string, path: string, body: unknown][] = [
    ["GET", "/api/v2/tenants", null],
    ["GET", "/api/v2/tenants?per_page=500&whatever=1", null],
    ["GET", "/api/v2/tenants/", null],
    ["GET", "/api/v2/tenants/acme", null],
    ["GET", "/api/v2/tenants/acme/operations", null],
    ["POST", "/api/v2/tenants", { name: "authhero-shaped", anything: [1, 2] }],
    ["PATCH", "/api/v2/tenants/acme", {}],
    ["DELETE", "/api/v2/tenants/acme", null],
    ["PUT", "/api/v2/tenants/acme/domains/login.acme.com", null],
  ];
  test.each(onTenantHost)("%s %s on a tenant host is AuthHero's (forwarded, with the access rule)", async (method, path, body) => {
    up.take();
    const org = await gw.orgToken("acme", ["read:tenants"]);
    const init = body === null ? { method } : { method, ...json(body) };
    const res = await gw.request("acme.localhost", path, { ...init, token: org });
    const echoed = await expectUpstream(res, "acme");
    expect([echoed.method, echoed.path]).toEqual([method, path]);
    if (body !== null) expect(JSON.parse(echoed.body)).toEqual(body);
    // The control-plane admin is refused there by the access rule, before the upstream.
    await expectError(await gw.request("acme.localhost", path, { ...init, token: admin }), 403, "token is for the control plane", 'this request is for tenant "acme"');
    await expectError(await gw.request("acme.localhost", path, init), 401, "missing bearer token");
    expect(up.take()).toHaveLength(1);
    expect(await gw.gateway.parts.cp.tenant("acme")).toBeDefined();
  });
});
