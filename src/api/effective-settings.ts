import { Elysia, t } from "elysia";
import { explainFields } from "../authhero/index.ts";
import type { Principal } from "../auth/index.ts";
import { HttpError } from "../http-error.ts";
import { hasTableIn, type SqlDb, type TenantAccess } from "../storage/files.ts";
import type { ControlPlane } from "../storage/index.ts";
import { errors } from "./schemas.ts";
import { allowTenantAction } from "./tenant-access.ts";

const Field = t.Object({ field: t.String(), value: t.Unknown(), origin: t.String({ description: "tenant, inherited or overridden" }) });

const EffectiveSettings = t.Object({
  tenant_id: t.String(),
  connections: t.Array(t.Object({ id: t.String(), name: t.String(), strategy: t.Union([t.String(), t.Null()]), inherits_from: t.Union([t.String(), t.Null()]), options: t.Array(Field) })),
  email_provider: t.Union([t.Object({ origin: t.String(), fields: t.Array(Field) }), t.Null()]),
});

type Row = Record<string, unknown>;

function parse(json: unknown): Record<string, unknown> {
  if (typeof json !== "string") return {};
  try {
    const v: unknown = JSON.parse(json);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

async function emailProviderOf(db: SqlDb, tenantId: string): Promise<Row | null> {
  if (!(await hasTableIn(db, "email_providers"))) return null;
  const row = await db.get("SELECT * FROM email_providers WHERE tenant_id = ?", [tenantId]);
  if (!row) return null;
  const { tenant_id: _t, created_at: _c, updated_at: _u, ...fields } = row;
  return { ...fields, credentials: parse(row.credentials), settings: parse(row.settings) };
}

export interface EffectiveSettingsDeps {
  /** Read through its SqlDb only: the control plane's own methods are not asynchronous yet. */
  cp: Pick<ControlPlane, "id" | "sql">;
  store: Pick<TenantAccess, "use">;
  secretKeys: readonly string[];
  authenticate: (request: Request) => Promise<Principal>;
}

/**
 * What a child tenant gets at runtime from the AuthHero adapter module's fallback, explained: every
 * connection option and email-provider field with its effective value (secrets masked) and origin.
 */
export function effectiveSettingsApi(d: EffectiveSettingsDeps) {
  return new Elysia({ name: "tenantgate/effective-settings" })
    .derive({ as: "local" }, async ({ request }) => ({ principal: await d.authenticate(request) }))
    .get(
      "/api/v2/tenants/:id/effective-settings",
      async ({ params, principal }) => {
        allowTenantAction(principal, "read", d.cp.id, params.id);
        if (params.id === d.cp.id || !(await d.cp.sql.get("SELECT 1 FROM tenants WHERE id = ?", [params.id]))) throw new HttpError(404, `tenant "${params.id}" does not exist`);
        const cpConnections = await d.cp.sql.all("SELECT * FROM connections WHERE tenant_id = ?", [d.cp.id]);
        const byStrategy = new Map(cpConnections.map((c) => [c.strategy, c]));
        const { own, mine } = await d.store.use(params.id, async (db) => ({
          own: await db.all("SELECT * FROM connections WHERE tenant_id = ? ORDER BY name", [params.id]),
          mine: await emailProviderOf(db, params.id),
        }));
        const connections = own.map((c) => {
          const inherited = byStrategy.get(c.strategy);
          return {
            id: c.id as string,
            name: c.name as string,
            strategy: (c.strategy as string | null) ?? null,
            inherits_from: (inherited?.id as string | undefined) ?? null,
            options: explainFields(parse(c.options), inherited ? parse(inherited.options) : null, d.secretKeys),
          };
        });
        const theirs = await emailProviderOf(d.cp.sql, d.cp.id);
        const email_provider = mine
          ? { origin: "tenant", fields: explainFields(mask(mine), null, d.secretKeys) }
          : theirs
            ? { origin: "inherited", fields: explainFields(null, mask(theirs), d.secretKeys) }
            : null;
        return { tenant_id: params.id, connections, email_provider };
      },
      {
        response: { 200: EffectiveSettings, ...errors(401, 403, 404, 503) },
        detail: {
          tags: ["tenants"],
          security: [{ bearer: [] }],
          summary: "A tenant's connections and email provider as AuthHero sees them, each field with its origin (tenant, inherited, overridden); secrets masked",
        },
      },
    );
}

/** The email provider's credentials are all secrets: every one is masked, key by key. */
function mask(provider: Row): Row {
  const credentials = provider.credentials as Record<string, unknown>;
  return { ...provider, credentials: Object.fromEntries(Object.keys(credentials).map((k) => [k, "********"])) };
}
