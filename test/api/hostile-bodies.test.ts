import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cli, removeDir, serve, tempDir, type Served } from "../cli/spawn.ts";

// A body built to be expensive (deeply nested arrays, 40 KB) sent to the gateway's own API by a real
// gateway process, on both transports. The answer must be a refusal, and the process must keep
// answering /healthz meanwhile: before, validating it serialized the value with indentation
// (quadratic in depth) and the main thread was gone for a minute, then answered 500 out of memory.

const NESTED = `{"friendly_name":"x","a":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
/** A liveness bound, not a measurement: far above any healthy answer, far below the old stall. */
const ANSWER_WITHIN_MS = 10_000;

let dataDir: string;
let adminToken: string;
let weakBetaToken: string;
let emptyAcmeToken: string;

const tokenOf = async (args: string[]) => {
  const r = await cli(dataDir, ["token", ...args]);
  if (r.code !== 0) throw new Error(`token ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
};

beforeAll(async () => {
  dataDir = tempDir("tenantgate-hostile-");
  for (const id of ["acme", "beta"]) expect((await cli(dataDir, ["tenants", "create", id])).code).toBe(0);
  adminToken = await tokenOf([]);
  weakBetaToken = await tokenOf(["--org", "beta", "--permissions", "read:users"]);
  emptyAcmeToken = await tokenOf(["--org", "acme", "--permissions", ""]);
});
afterAll(() => removeDir(dataDir));

async function send(gw: Served, method: string, path: string, token: string, body: string): Promise<{ status: number; message: string }> {
  const res = await fetch(gw.url + path, {
    method,
    headers: { host: "localhost", authorization: `Bearer ${token}`, "content-type": "application/json" },
    body,
    signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
  });
  const text = await res.text();
  return { status: res.status, message: (JSON.parse(text) as { message: string }).message };
}

const healthy = async (gw: Served) => (await fetch(`${gw.url}/healthz`, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) })).status;

for (const transport of ["front door", "no front door"] as const) {
  describe(`a hostile body on the gateway's API (${transport})`, () => {
    let gw: Served;
    beforeAll(async () => {
      gw = await serve(dataDir, transport === "no front door" ? ["--no-front-door"] : []);
    });
    afterAll(async () => {
      // A gateway stuck on the body would never stop by itself.
      gw.proc.kill("SIGKILL");
      await gw.proc.exited;
    });

    test("a weak token's create with a 20,000-deep body is refused before the body is read; /healthz answers meanwhile", async () => {
      const refused = send(gw, "POST", "/api/v2/tenants", weakBetaToken, NESTED);
      expect(await healthy(gw)).toBe(200);
      const answer = await refused;
      expect(answer.status).toBe(403);
      expect(answer.message).not.toContain("[[");
    });

    test("a tenant token without permission: its PATCH with the same body is 403", async () => {
      const answer = await send(gw, "PATCH", "/api/v2/tenants/acme", emptyAcmeToken, NESTED);
      expect(answer.status).toBe(403);
      expect(await healthy(gw)).toBe(200);
    });

    test("an admin's create with the same body is 400 naming the depth, and nothing is created", async () => {
      const refused = send(gw, "POST", "/api/v2/tenants", adminToken, NESTED);
      expect(await healthy(gw)).toBe(200);
      const answer = await refused;
      expect(answer.status).toBe(400);
      expect(answer.message).toContain("nested deeper than");
      expect(answer.message).not.toContain("[[");
      const list = await fetch(`${gw.url}/api/v2/tenants`, { headers: { host: "localhost", authorization: `Bearer ${adminToken}` } });
      expect(((await list.json()) as { tenants: { id: string }[] }).tenants.map((t) => t.id).sort()).toEqual(["acme", "beta"]);
    });
  });
}
