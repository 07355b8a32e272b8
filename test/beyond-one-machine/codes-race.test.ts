import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { Subprocess } from "bun";
import { join } from "node:path";
import { createTenantFileAdapters, libsqlTenantDatabases, type TenantFileAdapters } from "../../src/authhero/index.ts";
import { BASELINE_SQL } from "../../src/storage/baseline.ts";
import { LibsqlDb, SqldAdmin } from "../../src/storage/libsql.ts";
import { EXTRA_TABLES, sqlAdapters } from "../authhero/sqlite-adapters.ts";
import { BUN, ROOT } from "../cli/spawn.ts";
import { startSqld, type Sqld } from "../support/sqld.ts";

// A one-time code consumed at once through two processes: AuthHero on two machines, each with the
// module over the same tenant's namespace of one sqld (consume-codes.ts, the module's libSQL seam
// with the tests' adapters). Each code is sent to both in the same instant; exactly one may win it.

setDefaultTimeout(60_000);

const CP = "control_plane";
const TENANT = "acme";
const CODES = 50;
let sqld: Sqld;
let module: TenantFileAdapters;
const racers: Racer[] = [];

interface Racer {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  /** The next line it prints (within `ms`). */
  next(ms?: number): Promise<string>;
}

function startRacer(): Racer {
  const proc = Bun.spawn([BUN, join(import.meta.dir, "consume-codes.ts"), sqld.url, TENANT, CP], { cwd: ROOT, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  void (async () => {
    let buffer = "";
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
      wake?.();
    }
    wake?.();
  })();
  return {
    proc,
    async next(ms = 10_000) {
      const deadline = Date.now() + ms;
      while (lines.length === 0) {
        if (proc.exitCode !== null || proc.signalCode) throw new Error(`racer ${proc.pid} exited (${proc.exitCode ?? proc.signalCode}): ${await new Response(proc.stderr).text()}`);
        if (Date.now() > deadline) throw new Error(`racer ${proc.pid} said nothing within ${ms} ms`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      return lines.shift() as string;
    },
  };
}

beforeAll(async () => {
  sqld = await startSqld();
  const admin = new SqldAdmin(sqld.adminUrl);
  const now = new Date().toISOString();
  for (const ns of [CP, TENANT]) {
    await admin.create(ns);
    const db = new LibsqlDb({ url: sqld.url }, ns);
    await db.script(BASELINE_SQL + EXTRA_TABLES);
    await db.run("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES (?, ?, ?, ?)", [ns, ns, now, now]);
  }
  await new LibsqlDb({ url: sqld.url }, CP).run("INSERT INTO tenants (id, friendly_name, created_at, updated_at) VALUES (?, ?, ?, ?)", [TENANT, TENANT, now, now]);
  // The codes are made through the module too, as AuthHero makes them when it sends one.
  module = createTenantFileAdapters({
    controlPlaneTenantId: CP,
    databases: libsqlTenantDatabases({ server: { url: sqld.url }, controlPlaneTenantId: CP, open: (client, id) => sqlAdapters(new LibsqlDb({ url: sqld.url }, id, undefined, client)) }),
  });
  const expires = new Date(Date.now() + 600_000).toISOString();
  for (let i = 0; i < CODES; i++) await module.dataAdapter.codes.create(TENANT, { code_id: `code_${i}`, code_type: "otp", login_id: `login_${i}`, expires_at: expires });
  racers.push(startRacer(), startRacer());
  for (const r of racers) expect(await r.next(20_000)).toBe("ready");
});

afterAll(async () => {
  for (const r of racers) {
    r.proc.stdin.end();
    const timer = setTimeout(() => r.proc.kill("SIGKILL"), 5_000);
    await r.proc.exited;
    clearTimeout(timer);
  }
  module?.close();
  await sqld?.dispose();
});

test(`${CODES} codes, each consumed by two processes at once: exactly one wins each, and every code is used`, async () => {
  const wins = [0, 0];
  for (let i = 0; i < CODES; i++) {
    const code = `code_${i}`;
    // Both told in the same tick: their UPDATEs reach sqld together.
    for (const r of racers) r.proc.stdin.write(`${code}\n`);
    for (const r of racers) r.proc.stdin.flush();
    const said = (await Promise.all(racers.map((r) => r.next()))).map((l) => JSON.parse(l) as { code: string; won?: boolean; error?: string });
    expect(said.map((s) => ({ code: s.code, error: s.error }))).toEqual([{ code, error: undefined }, { code, error: undefined }]);
    expect(said.filter((s) => s.won === true), `${code}: ${JSON.stringify(said)}`).toHaveLength(1);
    const winner = said.findIndex((s) => s.won);
    wins[winner] = (wins[winner] ?? 0) + 1;
  }
  console.log(`${CODES} codes raced by two processes: ${wins[0]} won by one, ${wins[1]} by the other`);
  const unused = await new LibsqlDb({ url: sqld.url }, TENANT).all("SELECT code_id FROM codes WHERE used_at IS NULL");
  expect(unused).toEqual([]);
  // Consumed once, a code stays consumed.
  expect(await module.dataAdapter.codes.consume(TENANT, "code_0")).toBe(false);
});
