// Helpers for the tests that run gateway processes on one real sqld (test/beyond-one-machine/):
// the database flags, a host name of a process's own, the gateway's API with a token, polling that
// tolerates failures on the way, and the control plane's roles as AuthHero would write them.
import { rmSync } from "node:fs";
import { LibsqlDb } from "../../src/storage/libsql.ts";
import { cli, type Served } from "../cli/spawn.ts";
import type { Sqld } from "./sqld.ts";

/** The flags that put a gateway (or a CLI command) on `sqld`. */
export const dbFlags = (sqld: Sqld): string[] => ["--database-url", sqld.url, "--database-admin-url", sqld.adminUrl];

/** Runs a command under host name `name` (its own UTS namespace; the tests run as root, as .ci/run does). */
export const onHost = (name: string): string[] => ["unshare", "--uts", "sh", "-c", `hostname ${name} && exec "$@"`, name];

/** A control-plane admin dev token for gateways on `sqld` sharing the data directory `dir`. */
export async function devToken(dir: string, sqld: Sqld): Promise<string> {
  const made = await cli(dir, ["token", ...dbFlags(sqld)]);
  if (made.code !== 0) throw new Error(made.stderr);
  return made.stdout.trim();
}

/** A request to a gateway's API (or any path) with the token, on `host` (the control plane's by default). */
export function gatewayApi(g: Served, token: string, path: string, init: RequestInit = {}, host = "localhost"): Promise<Response> {
  const url = new URL(path, g.url);
  return fetch(url, { ...init, headers: { host: `${host}:${url.port}`, authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
}

/** Polls `read` every 50 ms until `ok` holds, a failure counting as not yet; throws with the last value or failure after `ms`. */
export async function eventually<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await read();
      last = v;
      if (ok(v)) return v;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(last)})`);
    await Bun.sleep(50);
  }
}

/** The synced (system) roles a namespace holds, by id. */
export async function systemRolesIn(sqld: Sqld, namespace: string): Promise<string[]> {
  const db = new LibsqlDb({ url: sqld.url }, namespace);
  return (await db.all<{ id: string }>("SELECT id FROM roles WHERE is_system = 1 ORDER BY id")).map((r) => r.id);
}

/** A role written on the control plane as AuthHero writes it (another process, the namespace itself). */
export async function controlPlaneRole(sqld: Sqld, id: string, controlPlane = "control_plane"): Promise<void> {
  const cp = new LibsqlDb({ url: sqld.url }, controlPlane);
  await cp.run("INSERT INTO roles (id, tenant_id, name, description, created_at, updated_at) VALUES (?, ?, ?, 'synced', '', '')", [id, controlPlane, `role ${id}`]);
}

/** Whether a process is still there (signal 0 reaches it). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops what a multi-gateway test started: the gateways, the upstream, sqld (each by its PID), and removes the data directory. */
export async function stopEverything(o: { gateways: readonly (Served | undefined)[]; upstream?: { stop(): void }; sqld?: Sqld; dir?: string }): Promise<void> {
  await Promise.all(o.gateways.map((g) => g?.stop()));
  o.upstream?.stop();
  await o.sqld?.dispose();
  if (o.dir) rmSync(o.dir, { recursive: true, force: true });
}
