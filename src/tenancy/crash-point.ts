// Crash testing: TENANTGATE_CRASH_AT=<step> makes the process die at that lifecycle step, the way a
// power cut or `kill -9` would (no cleanup, no finally blocks), so tests can restart it and check
// that recovery leaves either no tenant or a complete one.
const target = process.env.TENANTGATE_CRASH_AT;

export function crashPoint(step: string): void {
  if (target && target === step) process.kill(process.pid, "SIGKILL");
}
