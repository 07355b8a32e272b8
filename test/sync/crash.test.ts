// kill -9 of the gateway in the middle of a fan-out to 200 tenants, then a restart: every tenant ends
// up with exactly the control plane's syncable set (nothing lost, nothing twice) and its cursor at the
// head. Each tenant applies a batch and its cursor in one transaction, so a kill leaves every file
// either before or after the batch, never half-way; the restart replays what is missing.
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { join } from "node:path";
import { loadDevKey, signDevToken } from "../../src/auth/index.ts";
import { provisionOffline } from "../support/data-dir.ts";
import { controlPlanePath, removeDir, serve, tempDir, type Served } from "../cli/spawn.ts";
import { divergences, headOf } from "./convergence.ts";

const TENANTS = 200;
const ROLES = 60;
const PERMISSIONS_PER_ROLE = 5;
const CP = "control_plane";

test(
  "a gateway killed (SIGKILL) mid fan-out to 200 tenants converges after a restart, with nothing lost or doubled",
  async () => {
    const dir = tempDir("tenantgate-crash-");
    const ids = Array.from({ length: TENANTS }, (_, i) => `tenant-${String(i).padStart(3, "0")}`);
    let s: Served | undefined;
    const readers: Database[] = [];
    try {
      await provisionOffline(dir, ids);
      s = await serve(dir);
      const files = ids.map((id) => join(dir, "tenants", `${id}.sqlite`));
      for (const f of files) {
        const reader = new Database(f, { readonly: true });
        // As any reader beside a writer: WAL readers can meet a moment's lock while a writer checkpoints.
        reader.exec("PRAGMA busy_timeout = 5000");
        readers.push(reader);
      }
      const cursors = () => readers.map((db) => (db.query("SELECT cursor FROM tenantgate_sync WHERE id = 1").get() as { cursor: number }).cursor);

      // Each tenant was seeded at the head of its own creation; the organization events that followed
      // (later tenants' creations) are not owed to tenant files, so the cursors stay where they are.
      const cp = new Database(controlPlanePath(dir));
      cp.exec("PRAGMA busy_timeout = 5000");
      // The relay's first pass at start checks every file and may move a cursor over events it does
      // not owe the file; "before" is where the cursors rest once that pass is over.
      let before = cursors();
      for (const settleBy = performance.now() + 10_000; performance.now() < settleBy; ) {
        await Bun.sleep(300);
        const again = cursors();
        if (again.every((c, i) => c === before[i])) break;
        before = again;
      }
      expect(before.every((c) => c >= 0 && c <= headOf(cp))).toBe(true);

      // The burst, on AuthHero's own connection. One transaction, so the relay's next pass carries all
      // of it to every tenant: 60 roles with 5 permissions each make each tenant's apply take a few
      // milliseconds, which stretches the fan-out to 200 tenants over roughly a second (the window in
      // which the kill must land). More roles widen it if a faster machine closes it.
      const now = new Date().toISOString();
      cp.transaction(() => {
        cp.query("INSERT INTO resource_servers (id, tenant_id, identifier, name, scopes, created_at, updated_at) VALUES ('rs_api', ?, 'https://api.example.com', 'API', '[]', ?, ?)").run(CP, now, now);
        for (let r = 0; r < ROLES; r++) {
          cp.query("INSERT INTO roles (id, tenant_id, name, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)").run(`rol_${r}`, CP, `role ${r}`, `burst role ${r}`, now, now);
          for (let p = 0; p < PERMISSIONS_PER_ROLE; p++)
            cp.query("INSERT INTO role_permissions (tenant_id, role_id, resource_server_identifier, permission_name, created_at) VALUES (?, ?, 'https://api.example.com', ?, ?)").run(CP, `rol_${r}`, `perm:${r}:${p}`, now);
        }
      })();
      const head = headOf(cp);

      // Kill once some but not all tenants hold the burst (in the first third of the fan-out, so the
      // kill lands well before the end).
      const deadline = performance.now() + 10_000;
      let atHead = 0;
      for (;;) {
        atHead = cursors().filter((c) => c === head).length;
        if (atHead > 0 && atHead < TENANTS / 3) break;
        if (atHead === TENANTS) throw new Error("the fan-out finished before the test could kill it mid-way; add roles to stretch it");
        if (performance.now() > deadline) throw new Error(`the fan-out never started (${atHead} tenants at head ${head})`);
        await Bun.sleep(1);
      }
      // A moment later, so the kill lands anywhere in the work (inside a tenant's transaction too),
      // not only where the relay yields to the event loop between tenants.
      await Bun.sleep(Math.random() * 20);
      s.proc.kill("SIGKILL");
      await s.proc.exited;
      expect(s.proc.signalCode).toBe("SIGKILL");
      const afterKill = cursors();
      const applied = afterKill.filter((c) => c === head).length;
      console.log(`killed with ${atHead} of ${TENANTS} tenants at head ${head} seen; ${applied} at head once the process was gone`);
      expect(applied).toBeGreaterThan(0);
      expect(applied).toBeLessThan(TENANTS);
      // Every file is before or after the burst, never in between.
      expect(afterKill.every((c, i) => c === head || c === before[i])).toBe(true);
      s = undefined;

      // Restart and converge without any manual action.
      const restarted = performance.now();
      s = await serve(dir);
      const deadline2 = performance.now() + 15_000;
      while (cursors().some((c) => c !== head)) {
        if (performance.now() > deadline2) throw new Error(`not converged: ${cursors().filter((c) => c !== head).length} tenants below head ${head}`);
        await Bun.sleep(20);
      }
      console.log(`every tenant at head ${Math.round(performance.now() - restarted)} ms after the restart began`);

      // Exactly the control plane's syncable set everywhere: no duplicate names, no duplicate permission rows.
      const problems: string[] = [];
      for (const [i, db] of readers.entries()) {
        const id = ids[i] as string;
        for (const p of divergences(cp, db, id, { head })) problems.push(`${id}: ${p}`);
        const dupNames = db.query("SELECT name FROM roles GROUP BY name HAVING count(*) > 1").all();
        const dupPerms = db.query("SELECT role_id, resource_server_identifier, permission_name FROM role_permissions GROUP BY 1, 2, 3 HAVING count(*) > 1").all();
        if (dupNames.length + dupPerms.length > 0) problems.push(`${id}: duplicates ${JSON.stringify({ dupNames, dupPerms })}`);
        const counts = db.query("SELECT (SELECT count(*) FROM roles WHERE is_system = 1) AS roles, (SELECT count(*) FROM role_permissions) AS permissions").get();
        if (!Bun.deepEquals(counts, { roles: ROLES, permissions: ROLES * PERMISSIONS_PER_ROLE })) problems.push(`${id}: counts ${JSON.stringify(counts)}`);
        const check = (db.query("PRAGMA quick_check").get() as { quick_check: string }).quick_check;
        if (check !== "ok") problems.push(`${id}: quick_check ${check}`);
      }
      expect(problems).toEqual([]);

      // And the gateway says so too.
      const token = await signDevToken(await loadDevKey(dir), { tenant_id: CP, permissions: ["read:tenants"] }, { audience: "urn:authhero:management" });
      const summary = await fetch(`${s.url}/api/v2/sync`, { headers: { host: "localhost", authorization: `Bearer ${token}` } });
      expect(await summary.json()).toMatchObject({ head, tenants: TENANTS, in_sync: TENANTS, lagging: 0, failing: 0 });
      cp.close(false);
    } finally {
      for (const db of readers) db.close(false);
      await s?.stop();
      removeDir(dir);
    }
  },
  60_000,
);
