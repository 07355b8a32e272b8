import { beforeEach, describe, expect, test } from "bun:test";
import type { Connection, DataAdapters } from "@authhero/adapter-interfaces";
import { CP, STORES, useModuleFixture } from "../../test/authhero/module-fixture.ts";

// Issue 18: AuthHero's management API must never answer a child tenant with a secret (or the hint
// AuthHero derives from one) that the tenant only inherits at login time, and a tenant must be able
// to own its settings and read them back. The adapters are taken from the module's result the way
// AuthHero takes them from its config once the result is spread into it (`init({ ...result })`):
// the management API uses `managementDataAdapter ?? dataAdapter` (reference §1.1). On both stores.

const conn = (id: string, strategy: string, options: Record<string, unknown>) => ({ id, name: id, strategy, options }) as unknown as Connection;
const CP_SECRETS = ["cp-mail-key", "cp-oidc-secret", "cp-hook-token"];

describe.each(STORES)("on %s", (store) => {
  const fixture = useModuleFixture(store);
  let login: DataAdapters;
  let management: DataAdapters;
  beforeEach(async () => {
    const config: { dataAdapter?: DataAdapters; managementDataAdapter?: DataAdapters } = { ...fixture.both };
    login = config.dataAdapter as DataAdapters;
    management = (config.managementDataAdapter ?? config.dataAdapter) as DataAdapters;

    // The control plane's settings, secrets included.
    await login.emailProviders.create(CP, { name: "mailgun", credentials: { api_key: "cp-mail-key" } } as never);
    await login.connections.create(CP, conn("con_cp", "oidc", { client_id: "cp-client", client_secret: "cp-oidc-secret", scope: "openid" }));
    await login.hooks.create(CP, { hook_id: "h_cp", url: "https://cp.example/hook?token=cp-hook-token", trigger_id: "post-user-login", metadata: { inheritable: true } } as never);
    await login.resourceServers.create(CP, { id: "api_1", identifier: "https://api/", name: "API", scopes: [{ value: "read:users", description: "Read users" }] } as never);
    // acme's copies and its own rows, as the sync and the tenant leave them: no secret.
    await login.connections.create("acme", conn("con_cp", "oidc", { client_id: "cp-client", scope: "openid" }));
    await login.resourceServers.create("acme", { id: "api_1", identifier: "https://api/", name: "API", is_system: true, scopes: [{ value: "read:acme", description: "Acme only" }] } as never);
  });


  describe("the management API's adapters for a child tenant", () => {
    test("answer exactly what the tenant stores: no inherited email provider, connection secret or hook; synced resource servers with the control plane's scopes", async () => {
      const answers = {
        provider: await management.emailProviders.get("acme"),
        connection: await management.connections.get("acme", "con_cp"),
        connections: await management.connections.list("acme"),
        clientConnections: await management.clientConnections.listByClient("acme", "app"),
        hooks: await management.hooks.list("acme"),
        hook: await management.hooks.get("acme", "h_cp"),
      };
      expect(answers.provider).toBeNull();
      expect(answers.connection?.options).toEqual({ client_id: "cp-client", scope: "openid" });
      expect(answers.hooks.hooks).toEqual([]);
      expect(answers.hook).toBeNull();
      for (const secret of CP_SECRETS) expect(JSON.stringify(answers)).not.toContain(secret);
      // Scopes are no secret: a tenant's admin sees those its tokens for a synced API can carry.
      expect((await management.resourceServers.get("acme", "api_1"))?.scopes?.map((s) => s.value)).toEqual(["read:users", "read:acme"]);
    });

    test("a provider the tenant sets reads back exactly as written, and then logins use it", async () => {
      const own = { name: "sendgrid", credentials: { api_key: "acme-own-key" } };
      // Nothing inherited stands in the way of a create (AuthHero's POST answers 409 when get finds one).
      expect(await management.emailProviders.get("acme")).toBeNull();
      await management.emailProviders.create("acme", own as never);
      expect(await management.emailProviders.get("acme")).toMatchObject(own);
      expect(await login.emailProviders.get("acme")).toMatchObject(own);
      // The control plane's own is untouched, and still its own management view.
      expect(await management.emailProviders.get(CP)).toMatchObject({ name: "mailgun", credentials: { api_key: "cp-mail-key" } });
      expect(await fixture.tenantDb("acme").all("SELECT name FROM email_providers")).toEqual([{ name: "sendgrid" }]);
    });
  });

  test("logins still inherit the control plane's secrets", async () => {
    expect(await login.emailProviders.get("acme")).toMatchObject({ name: "mailgun", credentials: { api_key: "cp-mail-key" } });
    expect((await login.connections.get("acme", "con_cp"))?.options).toEqual({ client_id: "cp-client", client_secret: "cp-oidc-secret", scope: "openid" });
    expect(((await login.hooks.list("acme")).hooks as { hook_id?: string }[]).map((h) => h.hook_id)).toEqual(["h_cp"]);
  });

  test("a nested secret the sync strips (configuration.client_secret) comes back at login, merged key by key; management reads the stored options", async () => {
    const stored = { import_mode: true, configuration: { token_endpoint: "https://old.example/token", client_id: "mig" } };
    await login.connections.create(CP, conn("con_db", "auth0", { import_mode: true, configuration: { ...stored.configuration, client_secret: "cp-migration-secret", realm: "legacy" } }));
    await login.connections.create("acme", conn("con_db", "auth0", stored));
    expect((await login.connections.get("acme", "con_db"))?.options).toEqual({ import_mode: true, configuration: { ...stored.configuration, client_secret: "cp-migration-secret", realm: "legacy" } });
    expect((await management.connections.get("acme", "con_db"))?.options).toEqual(stored);
  });
});
