import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { TenancyConfig } from "../config.ts";
import { openSqlite } from "../storage/sqlite.ts";
import { tenantsDir } from "../tenancy/index.ts";
import { isFileTenantId } from "../tenancy/tenant-id.ts";
import { required, type Command, type Out } from "./command.ts";
import { integrity } from "./integrity.ts";

/** `tenantgate backup <id> <file>`. */
export const backup: Command = {
  name: "backup",
  usage: "  tenantgate backup <id> <file>                   consistent snapshot of a tenant file",
  flags: {},
  verifiesTokens: false,
  run(invocation) {
    backUp(invocation.config.tenancy, required(invocation, 0, "the tenant id"), required(invocation, 1, "the backup file"), invocation.out);
    return 0;
  },
};

/**
 * A consistent snapshot with VACUUM INTO (readers and writers carry on), written next to the target
 * and renamed once `integrity_check` says ok.
 */
export function backUp(tenancy: Pick<TenancyConfig, "dataDir" | "controlPlane">, id: string, file: string, out: Out): void {
  if (!isFileTenantId(id, tenancy.controlPlane)) throw new Error(`"${id}" is not a valid tenant id`);
  const source = join(tenantsDir(tenancy), `${id}.sqlite`);
  if (!existsSync(source)) throw new Error(`tenant "${id}" has no file at ${source}`);
  const target = resolve(file);
  if (existsSync(target)) throw new Error(`${target} already exists; choose a new file`);
  mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.partial`;
  rmSync(partial, { force: true });
  const db = openSqlite(source);
  try {
    db.query("VACUUM INTO ?").run(partial);
  } finally {
    db.close(false);
  }
  const check = integrity(partial);
  if (check !== "ok") {
    rmSync(partial, { force: true });
    throw new Error(`the snapshot failed integrity_check: ${check}`);
  }
  renameSync(partial, target);
  out(`backed up ${id} to ${target} (${statSync(target).size} bytes, integrity ok)`);
}
