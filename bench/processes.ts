// A benchmark's child processes and its temp dir, and how they are always cleaned up: every child
// is stopped (SIGTERM, then SIGKILL after 3 s) and the dir removed when the run ends, fails, is
// interrupted (SIGINT, SIGTERM) or outlives its watchdog; so is whatever was handed to `atCleanup`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

/** Where every benchmark process listens. */
export const HOST = "127.0.0.1";

export function freePort(): number {
  const s = Bun.serve({ hostname: HOST, port: 0, fetch: () => new Response() });
  const port = s.port as number;
  s.stop(true);
  return port;
}

/** utime + stime of a process (every thread of it), in seconds; NaN once it is gone (Linux /proc). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After the command name, which may hold spaces: utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

/** A process's resident memory now (VmRSS) and at its peak so far (VmHWM), in MiB; NaN once it is gone. */
export function memoryOf(pid: number): { rssMb: number; hwmMb: number } {
  let status = "";
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    // gone
  }
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb("VmRSS") / 1024, hwmMb: kb("VmHWM") / 1024 };
}

/**
 * For bench/<bench>.ts: its temp dir (`work`, named bench-<bench>-…) and the children it starts in
 * `cwd`. After `watchdogMs` the watchdog cleans up and exits 1.
 */
export function benchProcesses({ bench, cwd, watchdogMs }: { bench: string; cwd: string; watchdogMs: number }) {
  const work = mkdtempSync(join(tmpdir(), `bench-${bench}-`));
  const children: { name: string; proc: Subprocess }[] = [];
  const extra: (() => Promise<void>)[] = [];
  let cleaned = false;

  async function cleanup(): Promise<void> {
    if (cleaned) return;
    cleaned = true;
    for (const { proc } of children.reverse()) {
      if (proc.exitCode !== null || proc.signalCode !== null) continue;
      proc.kill("SIGTERM");
      const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
      if (!done) proc.kill("SIGKILL");
    }
    for (const fn of extra.reverse()) await fn().catch((err) => console.error(`cleanup: ${err instanceof Error ? err.message : err}`));
    rmSync(work, { recursive: true, force: true });
  }

  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void cleanup().finally(() => process.exit(130)));
  // Whatever happens, the run ends by itself.
  const watchdog = setTimeout(() => {
    console.error(`bench/${bench}.ts: watchdog fired, stopping`);
    void cleanup().finally(() => process.exit(1));
  }, watchdogMs);
  watchdog.unref();

  /** Makes `cleanup` stop a child started elsewhere. */
  function track<P extends Subprocess>(name: string, proc: P): P {
    children.push({ name, proc });
    return proc;
  }

  /** Makes `cleanup` also run `fn` (after the children are stopped), e.g. to stop a server started elsewhere. */
  function atCleanup(fn: () => Promise<void>): void {
    extra.push(fn);
  }

  const child = (name: string): Subprocess | undefined => children.find((c) => c.name === name)?.proc;

  /** A long-running child, its stdout and stderr in <work>/<name>.log and <name>.log.err. */
  function spawn(name: string, cmd: string[]): Subprocess {
    const log = join(work, `${name}.log`);
    return track(name, Bun.spawn(cmd, { cwd, stdout: Bun.file(log), stderr: Bun.file(`${log}.err`), stdin: "ignore" }));
  }

  function logTail(name: string): string {
    const read = (p: string) => {
      try {
        return readFileSync(p, "utf8");
      } catch {
        return "";
      }
    };
    return (read(join(work, `${name}.log`)) + read(join(work, `${name}.log.err`))).split("\n").slice(-20).join("\n");
  }

  async function run(cmd: string[]): Promise<string> {
    const proc = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${err}${out}`);
    return out || err; // nginx -v prints to stderr
  }

  /** Until `url` answers 200; throws with the child's log tail if it exits first or the time runs out. */
  async function waitFor(url: string, name: string, timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const proc = child(name);
      if (proc && proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}:\n${logTail(name)}`);
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
        await r.arrayBuffer();
        if (r.status === 200) return;
      } catch {
        // not up yet
      }
      await Bun.sleep(50);
    }
    throw new Error(`${name} did not answer 200 at ${url} within ${timeoutMs} ms:\n${logTail(name)}`);
  }

  /** A Bun server from `source` (given its port) in <work>/<name>.ts, once `/` answers 200: its port. */
  async function startBunServer(name: string, source: (port: number) => string): Promise<number> {
    const port = freePort();
    const script = join(work, `${name}.ts`);
    writeFileSync(script, source(port));
    spawn(name, [process.execPath, script]);
    await waitFor(`http://${HOST}:${port}/`, name);
    return port;
  }

  /** Runs `main`, prints its error and sets exit code 1 if it throws, and cleans up either way. */
  async function runAndCleanUp(main: () => Promise<void>): Promise<void> {
    try {
      await main();
    } catch (err) {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    } finally {
      await cleanup();
    }
  }

  return { work, spawn, track, atCleanup, child, run, waitFor, startBunServer, runAndCleanUp };
}
