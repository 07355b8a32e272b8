// Crash testing: TENANTGATE_CRASH_AT=<step> makes the process die at that lifecycle step, the way a
// power cut or `kill -9` would (no cleanup, no finally blocks), so tests can restart it and check
// that recovery leaves either no tenant or a complete one. TENANTGATE_PAUSE_AT=<step>:<ms> holds the
// process there instead, so a test can act beside a live operation (another process's recovery).
const target = process.env.TENANTGATE_CRASH_AT;
const pause = process.env.TENANTGATE_PAUSE_AT ?? "";
const pauseStep = pause.slice(0, pause.lastIndexOf(":"));
const pauseMs = Number(pause.slice(pause.lastIndexOf(":") + 1));

export function crashPoint(step: string): void {
  if (target && target === step) process.kill(process.pid, "SIGKILL");
  if (pauseStep && pauseStep === step) Bun.sleepSync(pauseMs || 0);
}
