// Tenant files are shared: AuthHero (on Bun, or on Node with better-sqlite3), an operator's sqlite3
// and tenantgate all open them. Here real foreign processes (Debian's sqlite3 CLI, and Node.js with
// better-sqlite3) open, read, write a tenant-owned row and close tenant files again and again beside a
// running gateway, while the control plane changes and the relay fans each change out to 200 tenants
// (on the main thread for the files its pool holds, on worker threads for the rest). Then the gateway
// is killed with SIGKILL and started again. Every file, as another process reads it, must hold every
// change, every foreign row, pass integrity_check, and the cursors the gateway reports must be the
// files' own.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadDevKey, signDevToken } from "../../src/auth/index.ts";
import { provisionOffline } from "../support/data-dir.ts";
import { cli, controlPlanePath, removeDir, ROOT, serve, tempDir, type Served } from "../cli/spawn.ts";
import { cursorIn, divergences, emptyOwnRows, readOnly, type Row } from "../sync/convergence.ts";
import { foreignClientsMissing, requireForeignClients } from "./foreign.ts";

const TENANTS = 200;
/** Tenants the gateway's pool holds open (their fan-out runs on the main thread); the rest go to workers. */
const HELD = 100;
const CP_CHANGES = 24;

beforeAll(() => requireForeignClients());

describe.skipIf(foreignClientsMissing).each([
  { name: "default rescan", flags: [] as string[] },
  // The rescan and the watcher at their fastest: every rescan looks at every file, so a check that
  // dropped the gateway's locks would do so every second.
  { name: "rescan every second", flags: ["--rescan-seconds", "1"] },
])("foreign clients beside a running gateway ($name)", ({ flags }) => {
  const dir = tempDir("tenantgate-shared-");
  const ids = Array.from({ length: TENANTS }, (_, i) => `t${String(i).padStart(3, "0")}`);
  const files = ids.map((id) => join(dir, "tenants", `${id}.sqlite`));
  let gateway: Served | undefined;

  afterAll(async () => {
    await gateway?.stop();
    removeDir(dir);
  });

  test(
    "never lose a committed change, across a SIGKILL and a restart",
    async () => {
      await provisionOffline(dir, ids);
      const args = ["--sync-workers", "2", "--max-open-files", "256", ...flags];
      gateway = await serve(dir, args);
      const key = await loadDevKey(dir);
      const token = await signDevToken(key, { tenant_id: "control_plane", permissions: ["read:tenants"] }, { audience: "urn:authhero:management" });
      const syncOf = async (g: Served, id: string) => {
        const res = await fetch(`${g.url}/api/v2/tenants/${id}/sync`, { headers: { host: "localhost", authorization: `Bearer ${token}` } });
        expect(res.status).toBe(200);
        return (await res.json()) as { cursor: number | null; state: string };
      };
      // The gateway's pool now holds these files open, as it does for tenants it serves.
      for (const id of ids.slice(0, HELD)) await syncOf(gateway, id);

      const list = join(dir, "files.txt");
      writeFileSync(list, `${files.join("\n")}\n`);
      const clients = [
        Bun.spawn(["bash", join(ROOT, "test/shared-files/sqlite3-client.sh"), list, "260", "cli"], { stdout: "pipe", stderr: "pipe" }),
        Bun.spawn(["node", join(ROOT, "test/shared-files/node-client.mjs"), list, "1500", "node"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" }),
      ];
      const outputs = clients.map((c) => Promise.all([new Response(c.stdout).text(), new Response(c.stderr).text()]));

      // Meanwhile, the control plane changes as AuthHero changes it, on a connection of its own.
      const cp = new Database(controlPlanePath(dir));
      cp.exec("PRAGMA busy_timeout = 5000");
      const now = new Date().toISOString();
      for (let k = 0; k < CP_CHANGES; k++) {
        cp.transaction(() => {
          cp.query("INSERT INTO roles (id, tenant_id, name, description, created_at, updated_at) VALUES (?, 'control_plane', ?, ?, ?, ?)").run(`rol_${k}`, `role ${k}`, `v1`, now, now);
          cp.query("INSERT INTO role_permissions (tenant_id, role_id, resource_server_identifier, permission_name, created_at) VALUES ('control_plane', ?, 'urn:api', ?, ?)").run(`rol_${k}`, `perm:${k}`, now);
          if (k > 2) cp.query("UPDATE roles SET description = ? WHERE id = ?").run(`v2 after ${k}`, `rol_${k - 3}`);
          if (k % 5 === 4) {
            cp.query("DELETE FROM roles WHERE id = ?").run(`rol_${k - 4}`);
            cp.query("DELETE FROM role_permissions WHERE role_id = ?").run(`rol_${k - 4}`);
          }
        })();
        await Bun.sleep(150);
      }

      const own = new Map(ids.map((id) => [id, emptyOwnRows()]));
      const problems: string[] = [];
      for (const [i, output] of outputs.entries()) {
        const [stdout, stderr] = await output;
        await clients[i]?.exited;
        const rows = stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Row);
        if (rows.length === 0) problems.push(`foreign client ${i} committed nothing: ${stderr.slice(0, 500)}`);
        for (const row of rows) own.get(row.tenant_id as string)?.rows.roles?.set(row.id as string, row);
      }
      // A last change once every foreign client has closed its files: it must reach them too.
      cp.query("UPDATE roles SET description = 'last' WHERE id = ?").run(`rol_${CP_CHANGES - 1}`);

      const settled = async (g: Served) => {
        const deadline = Date.now() + 20_000;
        for (;;) {
          const res = await fetch(`${g.url}/api/v2/sync`, { headers: { host: "localhost", authorization: `Bearer ${token}` } });
          const summary = (await res.json()) as { in_sync: number };
          if (summary.in_sync === TENANTS || Date.now() > deadline) return summary;
          await Bun.sleep(100);
        }
      };
      // What the gateway reports is what another process reads in the file.
      const compareReports = async (g: Served, when: string) => {
        for (const [i, id] of ids.entries()) {
          const reported = await syncOf(g, id);
          const actual = readOnly(files[i] as string, cursorIn);
          if (reported.cursor !== actual || reported.state !== "in_sync") problems.push(`${when}: ${id} reported ${reported.state} at cursor ${reported.cursor}, its file is at ${actual}`);
        }
      };

      const before = await settled(gateway);
      if (before.in_sync !== TENANTS) problems.push(`before the kill: ${JSON.stringify(before)}`);
      await compareReports(gateway, "before the kill");

      gateway.proc.kill("SIGKILL");
      await gateway.proc.exited;
      gateway = await serve(dir, args);
      const after = await settled(gateway);
      if (after.in_sync !== TENANTS) problems.push(`after the restart: ${JSON.stringify(after)}`);
      await compareReports(gateway, "after the restart");
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      if (!metrics.includes(`tenantgate_sync_tenants{state="in_sync"} ${TENANTS}`)) problems.push(`metrics: ${/tenantgate_sync_tenants.*/g.exec(metrics)?.[0]}`);
      const status = await cli(dir, ["sync", "status"]);
      if (!status.stdout.startsWith(`head `) || !status.stdout.includes(`${TENANTS} in sync`)) problems.push(`sync status: ${status.stdout.split("\n")[0]} ${status.stderr}`);

      // Every file as another process reads it: every synced change, every foreign row, intact.
      for (const [i, id] of ids.entries()) {
        readOnly(files[i] as string, (tenant) => {
          const integrity = (tenant.query("PRAGMA integrity_check").all() as { integrity_check: string }[]).map((r) => r.integrity_check).join("; ");
          if (integrity !== "ok") problems.push(`${id}: integrity_check says ${integrity}`);
          for (const d of divergences(cp, tenant, id, { own: own.get(id) })) problems.push(`${id}: ${d}`);
        });
      }
      const cpIntegrity = (cp.query("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check;
      if (cpIntegrity !== "ok") problems.push(`control plane: integrity_check says ${cpIntegrity}`);
      cp.close();
      expect(problems.slice(0, 20)).toEqual([]);
    },
    120_000,
  );
});
