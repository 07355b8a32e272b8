import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/** Which process runs a lifecycle operation: enough to tell, later, whether it is still alive. */
export interface ProcessOwner {
  host: string;
  pid: number;
  /** Start time of the process (clock ticks since boot, from /proc), so a reused pid is not mistaken for it. */
  start: string | null;
}

function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may itself hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

export function currentOwner(): ProcessOwner {
  return { host: hostname(), pid: process.pid, start: startTime(process.pid) };
}

/**
 * Whether the owner is a live process on this host. An owner on another host (a shared volume) is
 * taken as alive: this host cannot see it, and taking over its work could tear a tenant in half.
 */
export function isOwnerAlive(owner: ProcessOwner | null | undefined): boolean {
  if (!owner) return false;
  if (owner.host !== hostname()) return true;
  if (owner.pid === process.pid) return owner.start === startTime(process.pid);
  const start = startTime(owner.pid);
  if (owner.start !== null && start !== null) return start === owner.start;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a lease holder (a ProcessOwner as JSON) is a process on this host that is gone: its lease
 * may be taken at once, not after it lapses. Anything else (another host, not an owner) is not known dead.
 */
export function isDeadHere(holder: string): boolean {
  let owner: ProcessOwner;
  try {
    owner = JSON.parse(holder) as ProcessOwner;
  } catch {
    return false;
  }
  return typeof owner?.host === "string" && owner.host === hostname() && typeof owner.pid === "number" && !isOwnerAlive(owner);
}
