import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { loadConfig, type Config } from "../../src/config/index.ts";
import { openRelay, type OutboxRelay } from "../../src/sync/index.ts";
import { closeTenancy, openTenancy, type Tenancy } from "../../src/tenancy/index.ts";

/**
 * A data dir with its tenancy and (not started) relay, plus a second connection acting as AuthHero.
 * With `--database-url` in argv the tenancy is on that libSQL server, and there are no files to open:
 * `authhero` and `tenantFile` throw (the server's namespaces are reached through their clients).
 */
export interface SyncFixture extends Tenancy {
  config: Config;
  relay: OutboxRelay;
  dataDir: string;
  /** Another connection to the control-plane file: writes as AuthHero would make them. */
  readonly authhero: Database;
  tenantFile(id: string): Database;
  close(): void;
}

export async function openFixture(argv: string[] = []): Promise<SyncFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), "sync-"));
  const { config } = loadConfig({ argv: ["--dev", "--data-dir", dataDir, ...argv], env: {} });
  const log = pino({ level: "silent" });
  const tenancy = await openTenancy(config, log);
  const relay = await openRelay(tenancy, config, log);
  // On a server, cp.path names the namespace: opening it as a file would make a stray file in the cwd.
  const onServer = tenancy.files === undefined;
  const noFile = () => new Error(`the tenants are on ${config.tenancy.databaseUrl} here: there is no file to open`);
  const cpFile = onServer ? undefined : new Database(tenancy.cp.path);
  cpFile?.exec("PRAGMA busy_timeout = 5000");
  const opened: Database[] = [];
  return {
    ...tenancy,
    config,
    relay,
    dataDir,
    get authhero() {
      if (!cpFile) throw noFile();
      return cpFile;
    },
    tenantFile(id) {
      if (onServer) throw noFile();
      const db = new Database(join(dataDir, "tenants", `${id}.sqlite`));
      db.exec("PRAGMA busy_timeout = 5000");
      opened.push(db);
      return db;
    },
    close() {
      for (const db of opened) db.close();
      cpFile?.close();
      closeTenancy(tenancy);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const now = () => new Date().toISOString();

/** AuthHero-shaped writes on the control plane (tenant_id = control_plane). */
export const cpWrites = (db: Database, cp = "control_plane") => ({
  resourceServer(id: string, identifier: string, extra: { name?: string; metadata?: unknown; scopes?: unknown } = {}) {
    db.query("INSERT INTO resource_servers (id, tenant_id, identifier, name, scopes, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)").run(
      id,
      cp,
      identifier,
      extra.name ?? id,
      JSON.stringify(extra.scopes ?? [{ value: "read:x", description: "Read" }]),
      extra.metadata === undefined ? null : JSON.stringify(extra.metadata),
      now(),
      now(),
    );
  },
  role(id: string, name: string, metadata?: unknown) {
    db.query("INSERT INTO roles (id, tenant_id, name, description, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)").run(id, cp, name, `${name} role`, metadata === undefined ? null : JSON.stringify(metadata), now(), now());
  },
  permission(roleId: string, identifier: string, permission: string) {
    db.query("INSERT INTO role_permissions (tenant_id, role_id, resource_server_identifier, permission_name, created_at) VALUES (?, ?, ?, ?, ?)").run(cp, roleId, identifier, permission, now());
  },
  connection(id: string, name: string, options: Record<string, unknown>, metadata?: unknown) {
    db.query("INSERT INTO connections (id, tenant_id, name, strategy, options, metadata, created_at, updated_at) VALUES (?, ?, ?, 'oidc', ?, ?, ?, ?)").run(
      id,
      cp,
      name,
      JSON.stringify(options),
      metadata === undefined ? null : JSON.stringify(metadata),
      now(),
      now(),
    );
  },
});

/** Tenant-owned rows (is_system 0) written straight into a tenant file. */
export const tenantWrites = (db: Database, tenant: string) => ({
  resourceServer(id: string, identifier: string) {
    db.query("INSERT INTO resource_servers (id, tenant_id, identifier, name, is_system, created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)").run(id, tenant, identifier, `own ${id}`, now(), now());
  },
  role(id: string, name: string) {
    db.query("INSERT INTO roles (id, tenant_id, name, is_system, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)").run(id, tenant, name, now(), now());
  },
});
