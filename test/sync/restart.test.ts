// A restart over tenant files nothing has written since the relay last read or wrote their cursors:
// the mirror on the control plane remembers each cursor with the file's identity, and a file that
// still has it is not opened again. One that another process wrote is, and only that one.
import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import pino from "pino";
import { loadConfig } from "../../src/config/index.ts";
import { openRelay } from "../../src/sync/index.ts";
import { closeTenancy, openTenancy } from "../../src/tenancy/index.ts";
import { removeDir, tempDir } from "../cli/spawn.ts";
import { provisionOffline } from "../support/data-dir.ts";

const log = pino({ level: "silent" });
const TENANTS = ["acme", "beta", "gamma"];
let dir: string | undefined;
afterEach(() => dir && removeDir(dir));

/** One gateway's life over `dir`: open, one relay run to the head, close. Returns the tenants whose database the relay used. */
async function session(data: string): Promise<string[]> {
  const { config } = loadConfig({ argv: ["--dev", "--data-dir", data], env: {} });
  const tenancy = await openTenancy(config, log);
  const used: string[] = [];
  const use = tenancy.store.use.bind(tenancy.store);
  tenancy.store.use = (id, fn) => (used.push(id), use(id, fn));
  try {
    const relay = await openRelay(tenancy, config, log);
    await relay.drain();
    const summary = await relay.summary();
    expect(summary).toMatchObject({ tenants: TENANTS.length, in_sync: TENANTS.length });
    await relay.stop();
  } finally {
    closeTenancy(tenancy);
  }
  return [...new Set(used)].sort();
}

test("a restart opens no tenant file that is as the relay left it, and re-reads one another process wrote", async () => {
  dir = tempDir("tenantgate-restart-");
  await provisionOffline(dir, TENANTS);
  // Made with the outbox empty, at cursor 0, so the first start copies everything into each (a
  // write); the second reads each file as that write left it and records its identity; from then
  // on a start opens none of them.
  expect(await session(dir)).toEqual(TENANTS);
  expect(await session(dir)).toEqual(TENANTS);
  expect(await session(dir)).toEqual([]);
  expect(await session(dir)).toEqual([]);

  // AuthHero writes to beta while no gateway runs: beta's cursor is read again, the others' are not.
  const beta = new Database(join(dir, "tenants", "beta.sqlite"));
  beta.query("INSERT INTO roles (id, tenant_id, name, is_system, created_at, updated_at) VALUES ('rol_own', 'beta', 'own', 0, 't', 't')").run();
  beta.close();
  expect(await session(dir)).toEqual(["beta"]);
  expect(await session(dir)).toEqual([]);
});
