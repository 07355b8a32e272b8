// The foreign SQLite clients these tests run as real processes: Debian's sqlite3 CLI and Node.js with
// better-sqlite3 (a devDependency). `.ci/run` installs the CLI; elsewhere a missing one skips the
// suites that need it, loudly, instead of failing a fresh clone's `npm test`.
import { ROOT } from "../cli/spawn.ts";

function missingClients(): string[] {
  const missing: string[] = [];
  if (Bun.spawnSync(["sqlite3", "-version"], { stdout: "ignore", stderr: "ignore" }).exitCode !== 0) missing.push("the sqlite3 CLI (apt-get install sqlite3)");
  const node = Bun.spawnSync(["node", "-e", "new (require('better-sqlite3'))(':memory:').close()"], { cwd: ROOT, stdout: "ignore", stderr: "ignore" });
  if (node.exitCode !== 0) missing.push("Node.js with better-sqlite3 (npm ci)");
  return missing;
}

const missing = missingClients();

/** True when these suites must be skipped here; under CI a missing client is an error instead. */
export const foreignClientsMissing = missing.length > 0 && !process.env.CI;
if (foreignClientsMissing) console.warn(`skipping the shared-file suites: they need ${missing.join(" and ")}`);

export function requireForeignClients(): void {
  if (missing.length > 0) throw new Error(`these tests need ${missing.join(" and ")}`);
}
