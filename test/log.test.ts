import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BatchedLines, createLogger } from "../src/log.ts";

const LOG_MODULE = join(import.meta.dir, "..", "src", "log.ts");

function recorder(): { writes: string[]; write: (s: string) => void } {
  const writes: string[] = [];
  return { writes, write: (s) => void writes.push(s) };
}

describe("BatchedLines", () => {
  test("info lines wait for the batch (about 50 ms), then arrive in order in one write", async () => {
    const out = recorder();
    const log = createLogger("info", new BatchedLines(out));
    for (let i = 0; i < 5; i++) log.info({ i }, "request");
    expect(out.writes).toEqual([]);
    await Bun.sleep(120);
    expect(out.writes).toHaveLength(1);
    expect(out.writes[0]!.trimEnd().split("\n").map((l) => JSON.parse(l).i)).toEqual([0, 1, 2, 3, 4]);
  });

  test("a warning goes out at once, after the lines before it", () => {
    const out = recorder();
    const log = createLogger("info", new BatchedLines(out));
    log.info("first");
    log.warn("trouble");
    expect(out.writes).toHaveLength(1);
    expect(out.writes[0]!.trimEnd().split("\n").map((l) => JSON.parse(l).msg)).toEqual(["first", "trouble"]);
    log.error("worse");
    expect(out.writes).toHaveLength(2);
  });

  test("32 KiB of lines go out without waiting", () => {
    const out = recorder();
    const log = createLogger("info", new BatchedLines(out));
    const pad = "x".repeat(1000);
    for (let i = 0; i < 40; i++) log.info({ pad }, "big");
    expect(out.writes.length).toBeGreaterThanOrEqual(1);
    expect(out.writes.join("").length).toBeGreaterThanOrEqual(32 * 1024);
  });

  // The process's stdout: every line written before the process ends reaches the reader, whether it
  // ends by running out of work, by process.exit, or by an uncaught error.
  for (const ending of ["return", "exit", "throw"] as const) {
    test(`stdout gets every line when the process ends by ${ending}`, async () => {
      const script = `
        import { createLogger } from ${JSON.stringify(LOG_MODULE)};
        const log = createLogger("info");
        for (let i = 0; i < 3000; i++) log.info({ i }, "line");
        ${ending === "exit" ? "process.exit(0);" : ending === "throw" ? "throw new Error('boom');" : ""}
      `;
      const proc = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
      const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      expect(code).toBe(ending === "throw" ? 1 : 0);
      const lines = stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
      expect(lines).toHaveLength(3000);
      expect(lines.at(-1).i).toBe(2999);
    });
  }
});
