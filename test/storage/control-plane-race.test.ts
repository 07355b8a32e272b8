import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Two gateways (or a gateway and a CLI command) starting on a new data directory at the same moment
// both create and migrate the control-plane file: neither may fail, and the file ends up whole.
test("processes opening a new control-plane file at the same moment all succeed", async () => {
  const runner = join(import.meta.dir, "open-control-plane.ts");
  for (let round = 0; round < 6; round++) {
    const dir = mkdtempSync(join(tmpdir(), "cp-race-"));
    try {
      const path = join(dir, "tenants", "control_plane.sqlite");
      const at = String(Date.now() + 400);
      const runs = Array.from({ length: 3 }, () => Bun.spawn([process.execPath, runner, path, at], { stdout: "pipe", stderr: "pipe" }));
      const results = await Promise.all(runs.map(async (p) => ({ code: await p.exited, out: (await new Response(p.stdout).text()).trim(), err: await new Response(p.stderr).text() })));
      for (const r of results) {
        expect(r.err.split("\n").find((l) => /error/i.test(l)) ?? "").toBe("");
        expect(r).toMatchObject({ code: 0, out: "control_plane" });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}, 30_000);
