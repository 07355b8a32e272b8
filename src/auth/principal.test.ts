import { describe, expect, test } from "bun:test";
import { refusalOf } from "../../test/support/refusal.ts";
import type { JWTPayload } from "jose";
import { principalOf, type OrgDirectory, type PrincipalContext } from "./index.ts";

const CP = "control_plane";
const orgs: OrgDirectory = {
  tenantOfOrg: (id) => ({ org_acme000000000001: "acme", org_beta000000000002: "beta" })[id],
};
const ctx: PrincipalContext = { controlPlane: CP, orgs, trustOrgName: false };
const trusting: PrincipalContext = { ...ctx, trustOrgName: true };

function claims(extra: Record<string, unknown>): JWTPayload {
  return { iss: "https://auth.example.com/", aud: "urn:authhero:management", sub: "client_abc", exp: 2e9, ...extra };
}

describe("principalOf: which tenant a token speaks for", () => {
  const cases: Array<[string, Record<string, unknown>, PrincipalContext, { tenant: string; via: string; orgId?: string }]> = [
    ["no tenant or org claims: the control plane", {}, ctx, { tenant: CP, via: "control-plane" }],
    ["tenant_id = control plane, no org", { tenant_id: CP }, ctx, { tenant: CP, via: "control-plane" }],
    ["org_id of acme", { tenant_id: CP, org_id: "org_acme000000000001" }, ctx, { tenant: "acme", via: "organization", orgId: "org_acme000000000001" }],
    ["org_id of beta without tenant_id", { org_id: "org_beta000000000002" }, ctx, { tenant: "beta", via: "organization", orgId: "org_beta000000000002" }],
    ["org_id wins over org_name", { org_id: "org_acme000000000001", org_name: "beta" }, trusting, { tenant: "acme", via: "organization" }],
    ["trusted org_name", { tenant_id: CP, org_name: "acme" }, trusting, { tenant: "acme", via: "organization" }],
    ["a child tenant's own token", { tenant_id: "acme" }, ctx, { tenant: "acme", via: "tenant" }],
    [
      "a child tenant's token ignores its own org claims",
      { tenant_id: "acme", org_id: "org_beta000000000002", org_name: "beta" },
      trusting,
      { tenant: "acme", via: "tenant" },
    ],
    [
      "a child tenant's token with an org unknown to the control plane",
      { tenant_id: "acme", org_id: "org_inside_acme" },
      ctx,
      { tenant: "acme", via: "tenant" },
    ],
  ];
  for (const [name, extra, context, expected] of cases) {
    test(name, async () => {
      const p = await principalOf(claims(extra), context);
      expect(p.tenant).toBe(expected.tenant);
      expect(p.via).toBe(expected.via as typeof p.via);
      if (expected.orgId !== undefined) expect(p.orgId).toBe(expected.orgId);
      expect(p.subject).toBe("client_abc");
    });
  }

  test("an org that maps to no tenant is a 403 naming the org", async () => {
    const err = await refusalOf(() => principalOf(claims({ org_id: "org_gone" }), ctx));
    expect(err.status).toBe(403);
    expect(err.message).toBe("token's organization org_gone does not belong to any tenant");
  });

  test("an org_name without org_id is refused unless org_name is trusted, never read as the control plane", async () => {
    const err = await refusalOf(() => principalOf(claims({ tenant_id: CP, org_name: "acme" }), ctx));
    expect(err.status).toBe(403);
    expect(err.message).toContain('names organization "acme" by org_name only');
    expect(err.message).toContain("organization=acme");
  });

  const badClaims: Array<[string, Record<string, unknown>, string]> = [
    ["org_id as a number", { org_id: 42 }, "token claim org_id must be a string"],
    ["tenant_id as an object", { tenant_id: { id: "acme" } }, "token claim tenant_id must be a string"],
    ["org_name as an array", { org_name: ["acme"] }, "token claim org_name must be a string"],
    ["empty org_id", { org_id: "" }, "token claim org_id must not be empty"],
    ["empty tenant_id", { tenant_id: "" }, "token claim tenant_id must not be empty"],
    ["no sub", { sub: undefined }, "token claim sub is missing"],
    ["permissions as a string", { permissions: "read:users" }, "token claim permissions must be an array of strings"],
    ["permissions with a number", { permissions: ["read:users", 7] }, "token claim permissions must be an array of strings"],
    ["scope as an array", { scope: ["read:users"] }, "token claim scope must be a string"],
  ];
  for (const [name, extra, message] of badClaims) {
    test(`${name} is a 401`, async () => {
      const err = await refusalOf(() => principalOf(claims(extra), trusting));
      expect(err.status).toBe(401);
      expect(err.message).toBe(message);
    });
  }

  test("permissions are the union of the permissions array and the scope string", async () => {
    const p = await principalOf(
      claims({ permissions: ["create:tenants", "read:users"], scope: "read:users  update:users\tdelete:users" }),
      ctx,
    );
    expect([...p.permissions].sort()).toEqual(["create:tenants", "delete:users", "read:users", "update:users"]);
    expect((await principalOf(claims({}), ctx)).permissions.size).toBe(0);
    expect((await principalOf(claims({ scope: "" }), ctx)).permissions.size).toBe(0);
  });

  const users: Array<[string, Record<string, unknown>, boolean]> = [
    ["a user id", { sub: "auth2|abc123" }, true],
    ["a client id", { sub: "client_abc" }, false],
    ["a piped subject from client credentials", { sub: "auth2|abc123", gty: "client-credentials" }, false],
  ];
  for (const [name, extra, isUser] of users) {
    test(`isUser for ${name} is ${isUser}`, async () => {
      expect((await principalOf(claims(extra), ctx)).isUser).toBe(isUser);
    });
  }

  test("the claims are kept", async () => {
    const c = claims({ org_id: "org_acme000000000001", custom: 1 });
    expect((await principalOf(c, ctx)).claims).toBe(c);
  });
});
