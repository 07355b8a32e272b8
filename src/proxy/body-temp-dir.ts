import { accessSync, constants, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeProblem } from "../storage/index.ts";
import { TEMP_PREFIX } from "./temp-file.ts";

/**
 * Makes the directory for request bodies' temporary files ready at start: created if missing, and
 * writable, or the start fails naming the option. Files there are unlinked as soon as they are open,
 * so a name is left only by a process killed in between; names left by processes that are gone are
 * removed (another gateway may share the directory: its files are its own).
 */
export function prepareBodyTempDir(dir: string): { swept: number } {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Permissions: which folder refused, whose it is and who asked (the nearest that exists).
    const owner = code === "EACCES" || code === "EPERM" ? writeProblem([nearestExisting(dir)]) : undefined;
    const why = `${code ?? (err as Error).message}${owner ? `: ${owner}` : ""}`;
    throw new Error(`bodyTempDir: request bodies cannot be written to ${dir} (${why}); set --body-temp-dir (TENANTGATE_BODY_TEMP_DIR) to a writable directory`);
  }
  let swept = 0;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const pid = Number(name.slice(TEMP_PREFIX.length).split("-")[0]);
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) continue;
    rmSync(join(dir, name), { force: true });
    swept++;
  }
  return { swept };
}

/** `dir`, or the nearest folder above it that exists. */
function nearestExisting(dir: string): string {
  let at = dir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  return at;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user's.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
