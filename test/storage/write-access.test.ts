import { afterEach, expect, test } from "bun:test";
import { chmodSync, chownSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { cli, removeDir, run, serve, tempDir, type Served } from "../cli/spawn.ts";
import { until } from "../support/until.ts";

// A data directory the gateway may read but not write (another user's, or made read-only). SQLite
// opens such a file read-only without a word: the gateway used to start, answer /readyz 200, and
// then fail every create with a 500 and a stack in its log. Now the start refuses and /readyz is
// 503, each naming the file, its owner and the user the gateway runs as.
//
// As root, permissions do not stop the process, so the gateway runs as `nobody` (setpriv, from
// util-linux) over root's files; as another user, the files are made read-only for their owner.

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
const prefix = asRoot ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"] : [];
const who = asRoot ? /user nobody \(uid 65534\)/ : new RegExp(`\\(uid ${process.getuid?.()}\\)`);

let dir: string | undefined;
let served: Served | undefined;
afterEach(async () => {
  await served?.stop();
  served = undefined;
  if (dir) {
    chmodTree(dir, 0o755, 0o644);
    removeDir(dir);
  }
  dir = undefined;
});

/** Every folder and file under `root` given these modes (and, as root, that owner). */
function chmodTree(root: string, dirMode: number, fileMode: number, owner?: number): void {
  chmodSync(root, dirMode);
  if (owner !== undefined) chownSync(root, owner, owner);
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) chmodTree(path, dirMode, fileMode, owner);
    else {
      chmodSync(path, fileMode);
      if (owner !== undefined) chownSync(path, owner, owner);
    }
  }
}

async function dataDirWithTenant(): Promise<string> {
  const d = (dir = tempDir("tenantgate-unwritable-"));
  expect((await cli(d, ["tenants", "create", "acme"])).code).toBe(0);
  // The dev token's key, read at start, must stay readable to the gateway's user.
  return d;
}

test("serve refuses to start on a control plane it cannot write, naming the file, its owner and the user", async () => {
  const d = await dataDirWithTenant();
  // As root: root's files, readable by all, writable by none but root. Otherwise: read-only to all.
  if (asRoot) chmodTree(d, 0o755, 0o644);
  else chmodTree(d, 0o555, 0o444);
  const r = await run(["serve", "--dev", "--port", "0", "--data-dir", d, "--upstream", "http://127.0.0.1:9"], {}, prefix);
  expect(r.code).not.toBe(0);
  // The first thing serve writes is the request bodies' folder under the data directory.
  expect(r.stderr).toContain("request bodies cannot be written to");
  expect(r.stderr).toContain(`the folder ${d} cannot be written by`);
  expect(r.stderr).toMatch(asRoot ? /belongs to user root \(uid 0\) with mode 0755/ : /with mode 0555/);
  expect(r.stderr).toMatch(who);
  expect(r.stderr).not.toContain("attempt to write a readonly database");
});

test("a command that opens the data directory refuses a control plane it cannot write, naming the file, its owner and the user", async () => {
  const d = await dataDirWithTenant();
  if (asRoot) chmodTree(d, 0o755, 0o644);
  else chmodTree(d, 0o555, 0o444);
  const r = await run(["tenants", "create", "beta", "--dev", "--data-dir", d], {}, prefix);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("the control plane cannot be opened for writing");
  expect(r.stderr).toContain(join(d, "tenants"));
  expect(r.stderr).toMatch(asRoot ? /belongs to user root \(uid 0\) with mode 0755/ : /with mode 0555/);
  expect(r.stderr).toMatch(who);
  expect(r.stderr).not.toContain("attempt to write a readonly database");
});

test("/readyz is 503 once the control plane cannot be written, naming it; 200 again once it can", async () => {
  const d = await dataDirWithTenant();
  if (asRoot) chmodTree(d, 0o755, 0o644, NOBODY);
  served = await serve(d, [], {}, prefix);
  const url = served.url;
  const cpFile = join(d, "tenants", "control_plane.sqlite");
  if (asRoot) chownSync(cpFile, 0, 0);
  else chmodSync(cpFile, 0o444);

  const ready = await until("readyz to fail", async () => fetch(`${url}/readyz`).then(async (r) => ({ status: r.status, body: (await r.json()) as { reason?: string } })), (r) => r.status === 503);
  expect(ready.body.reason).toContain(`the file ${cpFile} cannot be written by`);
  expect(ready.body.reason).toMatch(who);
  expect(ready.body.reason).toMatch(asRoot ? /belongs to user root \(uid 0\) with mode 0644/ : /with mode 0444/);

  if (asRoot) chownSync(cpFile, NOBODY, NOBODY);
  else chmodSync(cpFile, 0o644);
  await until("readyz to pass", async () => (await fetch(`${url}/readyz`)).status, (s) => s === 200);
});
