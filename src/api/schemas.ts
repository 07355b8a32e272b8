import { Type } from "@sinclair/typebox";
import { t } from "elysia";

export const ErrorSchema = t.Object(
  { statusCode: t.Integer(), error: t.String(), message: t.String() },
  { description: "Auth0-style error" },
);

const nullableText = (max: number, description: string) => t.Optional(t.Union([t.String({ maxLength: max }), t.Null()], { description }));

const settings = {
  audience: nullableText(1024, "default audience for this tenant's tokens"),
  sender_email: nullableText(320, "From address of the tenant's emails"),
  sender_name: nullableText(255, "From name of the tenant's emails"),
  support_url: nullableText(2048, "support page"),
  support_email: nullableText(320, "support address"),
  picture_url: nullableText(2048, "logo URL"),
  default_audience: nullableText(1024, "default API audience"),
  default_organization: nullableText(255, "default organization"),
};

export const CreateTenantBody = t.Object(
  {
    id: t.Optional(t.String({ description: "a DNS label (a-z, 0-9, inner hyphens, ≤ 63); generated when absent" })),
    friendly_name: t.String({ minLength: 1, maxLength: 255 }),
    ...settings,
  },
  { additionalProperties: false },
);

export const UpdateTenantBody = t.Object(
  { friendly_name: t.Optional(t.String({ minLength: 1, maxLength: 255 })), ...settings },
  { additionalProperties: false, minProperties: 1 },
);

export const TenantSchema = t.Object(
  {
    id: t.String(),
    friendly_name: t.Union([t.String(), t.Null()]),
    organization_id: t.Union([t.String(), t.Null()], { description: "the control-plane organization whose tokens manage this tenant" }),
    status: t.String({ description: "ready, missing, unreadable, provisioning or deleting" }),
    created_at: t.String(),
    updated_at: t.String(),
  },
  { additionalProperties: true },
);

export const TenantPageSchema = t.Object({
  tenants: t.Array(TenantSchema),
  start: t.Integer(),
  limit: t.Integer(),
  /** Every tenant the token may see (the seed's API names it `length`). */
  length: t.Integer(),
  total: t.Integer(),
});

// Queries are read by api/query.ts from these plain TypeBox schemas (Elysia's `t.Integer` and
// `t.Boolean` are unions with a string form, made for its own coercion).
export const ListQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 })),
  per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  include_totals: Type.Optional(Type.Boolean({ default: false })),
  q: Type.Optional(Type.String({ maxLength: 255, description: "matches id or friendly name" })),
});

export const DeleteQuery = Type.Object({
  purge: Type.Optional(Type.Boolean({ default: false, description: "delete the file instead of moving it to the trash" })),
});

export const DomainSchema = t.Object({
  domain: t.String(),
  tenant_id: t.String(),
  custom_domain_id: t.String(),
  status: t.String(),
  created_at: t.String(),
});

export const OperationSchema = t.Object({
  id: t.String(),
  tenant_id: t.String(),
  kind: t.String({ description: "create, adopt, delete, backup or restore" }),
  state: t.String({ description: "running, done, rolled_back or failed" }),
  steps: t.Array(t.Object({ step: t.String(), at: t.String(), outcome: t.String() })),
  error: t.Union([t.String(), t.Null()]),
  started_at: t.String(),
  finished_at: t.Union([t.String(), t.Null()]),
});

export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorSchema]));
