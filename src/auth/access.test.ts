import { describe, expect, test } from "bun:test";
import { refusalOf } from "../../test/support/refusal.ts";
import type { JWTPayload } from "jose";
import { authorize, bearerToken, principalOf, type OrgDirectory, type Principal } from "./index.ts";

const CP = "control_plane";
const orgs: OrgDirectory = { tenantOfOrg: (id) => (id === "org_x" ? "acme" : undefined) };

function principal(extra: Record<string, unknown>, trustOrgName = false): Promise<Principal> {
  const claims: JWTPayload = { sub: "client_abc", exp: 2e9, ...extra };
  return principalOf(claims, { controlPlane: CP, orgs, trustOrgName });
}

describe("authorize: tenant match", () => {
  const allowed: Array<[string, Promise<Principal>, string]> = [
    ["control-plane token on the control plane", principal({}), CP],
    ["org token on its tenant", principal({ org_id: "org_x" }), "acme"],
    ["trusted org_name token on its tenant", principal({ org_name: "acme" }, true), "acme"],
    ["tenant token on its tenant", principal({ tenant_id: "acme" }), "acme"],
  ];
  for (const [name, p, tenant] of allowed) {
    test(`allows ${name}`, async () => {
      const principal = await p;
      expect(() => authorize(principal, tenant)).not.toThrow();
    });
  }

  const denied: Array<[string, Promise<Principal>, string, string]> = [
    [
      "org token on another tenant",
      principal({ org_id: "org_x" }),
      "beta",
      'token is for tenant "acme" (organization org_x) but this request is for tenant "beta"; request a token with organization=beta',
    ],
    [
      "org token on the control plane",
      principal({ tenant_id: CP, org_id: "org_x" }),
      CP,
      'token is for tenant "acme" (organization org_x) but this request is for the control plane; request a token without an organization',
    ],
    [
      "control-plane token on a child tenant",
      principal({}),
      "beta",
      'token is for the control plane ("control_plane") but this request is for tenant "beta"; request a token with organization=beta',
    ],
    [
      "trusted org_name token on another tenant",
      principal({ org_name: "acme" }, true),
      "beta",
      'token is for tenant "acme" (organization named acme) but this request is for tenant "beta"',
    ],
    [
      "tenant token on another tenant",
      principal({ tenant_id: "acme" }),
      "beta",
      'token is for tenant "acme" (issued by that tenant) but this request is for tenant "beta"',
    ],
    [
      "tenant token on the control plane",
      principal({ tenant_id: "acme" }),
      CP,
      'token is for tenant "acme" (issued by that tenant) but this request is for the control plane; request a token from the control plane',
    ],
  ];
  for (const [name, p, tenant, message] of denied) {
    test(`denies ${name} with 403`, async () => {
      const principal = await p;
      const err = await refusalOf(() => authorize(principal, tenant));
      expect(err.status).toBe(403);
      expect(err.message).toStartWith(message);
    });
  }

  test("the tenant check comes before the permission check", async () => {
    const p = await principal({ org_id: "org_x", permissions: ["create:tenants"] });
    expect((await refusalOf(() => authorize(p, "beta", { permission: "create:tenants" }))).message).toContain('"beta"');
  });
});

describe("authorize: permissions", () => {
  const principalOfScopes = principal({ permissions: ["read:users"], scope: "create:tenants" });

  test("a permission from the array or from scope is enough", async () => {
    const p = await principalOfScopes;
    expect(() => authorize(p, CP, { permission: "read:users" })).not.toThrow();
    expect(() => authorize(p, CP, { permission: "create:tenants" })).not.toThrow();
    expect(() => authorize(p, CP, { permission: ["delete:tenants", "create:tenants"] })).not.toThrow();
  });

  test("a missing permission is a 403 naming it", async () => {
    const p = await principalOfScopes;
    const err = await refusalOf(() => authorize(p, CP, { permission: "delete:tenants" }));
    expect(err.status).toBe(403);
    expect(err.message).toBe("token lacks permission delete:tenants");
    const any = await refusalOf(() => authorize(p, CP, { permission: ["delete:tenants", "update:tenants"] }));
    expect(any.status).toBe(403);
    expect(any.message).toBe("token lacks permission delete:tenants or update:tenants");
  });

  test("an empty any-of list fails closed", async () => {
    const p = await principalOfScopes;
    expect(() => authorize(p, CP, { permission: [] })).toThrow("permission list is empty");
  });
});

describe("bearerToken", () => {
  const ok: Array<[string, string]> = [
    ["Bearer abc.def.ghi", "abc.def.ghi"],
    ["bearer abc.def.ghi", "abc.def.ghi"],
    ["BEARER  abc.def.ghi ", "abc.def.ghi"],
  ];
  for (const [header, expected] of ok) {
    test(`reads ${JSON.stringify(header)}`, () => expect(bearerToken(header)).toBe(expected));
  }

  const bad: Array<[string | null | undefined, string]> = [
    [undefined, "missing bearer token"],
    [null, "missing bearer token"],
    ["", "missing bearer token"],
    ["   ", "missing bearer token"],
    ["Basic dXNlcjpwYXNz", "authorization header must be `Bearer <token>`"],
    ["Bearer", "authorization header must be `Bearer <token>`"],
    ["Bearer ", "authorization header must be `Bearer <token>`"],
    ["Bearer a b", "authorization header must be `Bearer <token>`"],
    ["Bearerabc", "authorization header must be `Bearer <token>`"],
    ["abc.def.ghi", "authorization header must be `Bearer <token>`"],
  ];
  for (const [header, message] of bad) {
    test(`refuses ${JSON.stringify(header)} with 401`, async () => {
      const err = await refusalOf(() => bearerToken(header));
      expect(err.status).toBe(401);
      expect(err.message).toBe(message);
    });
  }
});
