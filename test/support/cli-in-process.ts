import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../src/cli/index.ts";

/**
 * The CLI run in this process over one temp data directory (removed after the file's tests): what a
 * command printed, and its exit code. Thrown errors reach the test as they would reach main.ts.
 */
export function cliInProcess(prefix: string): { dir: string; run: (argv: string[]) => Promise<{ code: number; lines: string[] }> } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    async run(argv) {
      const lines: string[] = [];
      const code = await runCli([...argv, "--data-dir", dir], { out: (line) => void lines.push(line), env: {} });
      return { code, lines };
    },
  };
}
