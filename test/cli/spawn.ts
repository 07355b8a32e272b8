// Helpers for tests that run tenantgate as a real process: `bun src/main.ts <command> ...` with the
// repository as cwd, a clean environment (no TENANTGATE_* leaking in from the shell), and a `serve`
// process whose port is read from its "listening" log line.
import { Database } from "bun:sqlite";
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const BUN = join(ROOT, "node_modules/.bin/bun");
export const MAIN = join(ROOT, "src/main.ts");

export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" };
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
  return { ...env, ...extra };
}

/** Runs one CLI command to completion; `prefix` runs it through another command (e.g. setpriv). */
export async function run(args: string[], env: Record<string, string> = {}, prefix: string[] = []): Promise<RunResult> {
  const proc = Bun.spawn([...prefix, BUN, MAIN, ...args], { cwd: ROOT, env: baseEnv(env), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  return { code: proc.exitCode, signal: proc.signalCode == null ? null : String(proc.signalCode), stdout, stderr };
}

/** Runs a CLI command against a data dir in --dev mode (no issuer needed, dev tokens). */
export function cli(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return run([...args, "--dev", "--data-dir", dataDir, "--log-level", "warn"], env);
}

export interface Served {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  url: string;
  /** Everything the process logged so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `serve --dev --port 0` over a data dir and waits until /readyz answers 200 (`prefix` as for `run`). */
export async function serve(dataDir: string, extra: string[] = [], env: Record<string, string> = {}, prefix: string[] = []): Promise<Served> {
  const proc = Bun.spawn(
    [...prefix, BUN, MAIN, "serve", "--dev", "--port", "0", "--data-dir", dataDir, "--log-level", "info", "--upstream", "http://127.0.0.1:9", ...extra],
    { cwd: ROOT, env: baseEnv(env), stdout: "pipe", stderr: "pipe", stdin: "ignore" },
  );
  let out = "";
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) out += decoder.decode(chunk, { stream: true });
  };
  void drain(proc.stdout);
  void drain(proc.stderr);
  const deadline = Date.now() + 10_000;
  let url: string | undefined;
  while (!url) {
    const m = /"url":"(http:\/\/[^"]+?)\/?"/.exec(out);
    if (m?.[1]) url = m[1];
    else if (proc.exitCode !== null || proc.signalCode) throw new Error(`serve exited early (${proc.exitCode ?? proc.signalCode}):\n${out}`);
    else if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`serve did not report its address in time:\n${out}`);
    } else await Bun.sleep(20);
  }
  for (;;) {
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    if (res?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`serve never became ready:\n${out}`);
    await Bun.sleep(20);
  }
  return {
    proc,
    url,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && !proc.signalCode) proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await proc.exited;
      clearTimeout(timer);
    },
  };
}

export function tempDir(prefix = "tenantgate-cli-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Opens a SQLite file read-only, runs `fn`, closes it. */
export function readDb<T>(path: string, fn: (db: Database) => T): T {
  const db = new Database(path, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close(false);
  }
}

export function controlPlanePath(dataDir: string): string {
  return join(dataDir, "tenants", "control_plane.sqlite");
}

export function decodeJwtPayload(jwt: string): Record<string, unknown> {
  const part = jwt.trim().split(".")[1];
  if (!part) throw new Error(`not a JWT: ${jwt}`);
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
}
