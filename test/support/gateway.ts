import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Gateway } from "../../src/app.ts";
import { loadDevKey, signDevToken, type DevTokenClaims } from "../../src/auth/index.ts";
import { loadConfig, type Config } from "../../src/config/index.ts";

export interface TestGateway {
  gateway: Gateway;
  config: Config;
  dataDir: string;
  /** http://127.0.0.1:<port> */
  url: string;
  /** Sends a request as if to `host` (e.g. "acme.localhost"). */
  request(host: string, path: string, init?: RequestInit & { token?: string }): Promise<Response>;
  /** A dev token the gateway trusts. */
  token(claims?: DevTokenClaims): Promise<string>;
  /** A token for a tenant's organization, as AuthHero issues it for `organization=<tenant>`. */
  orgToken(tenant: string, permissions?: string[]): Promise<string>;
  stop(): Promise<void>;
}

export const ADMIN_PERMISSIONS = ["create:tenants", "read:tenants", "update:tenants", "delete:tenants"];

export function tempDataDir(prefix = "tenantgate-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A real gateway on 127.0.0.1 over a temp data dir, in --dev mode (dev tokens trusted). */
export async function startGateway(argv: string[] = [], dataDir = tempDataDir()): Promise<TestGateway> {
  const { config } = loadConfig({ argv: ["--dev", "--port", "0", "--data-dir", dataDir, "--log-level", "silent", "--rescan-seconds", "1", ...argv], env: {} });
  const gateway = await Gateway.open(config, pino({ level: "silent" }));
  await gateway.listen();
  const url = `http://127.0.0.1:${gateway.port}`;
  const key = await loadDevKey(dataDir);
  const token = (claims: DevTokenClaims = {}) =>
    signDevToken(key, { tenant_id: config.controlPlane, permissions: ADMIN_PERMISSIONS, ...claims }, { audience: config.audience });
  return {
    gateway,
    config,
    dataDir,
    url,
    token,
    async orgToken(tenant, permissions = ["read:tenants", "update:tenants"]) {
      const org = await gateway.parts.cp.organizationOf(tenant);
      if (!org) throw new Error(`no organization for ${tenant}`);
      return token({ org_id: org.id, org_name: tenant, permissions });
    },
    request(host, path, init = {}) {
      const headers = new Headers(init.headers);
      headers.set("host", host);
      if (init.token) headers.set("authorization", `Bearer ${init.token}`);
      return fetch(url + path, { ...init, headers });
    },
    async stop() {
      await gateway.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
