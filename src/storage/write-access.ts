import { accessSync, constants, readFileSync, statSync } from "node:fs";

/**
 * Why this process cannot write the first of `paths` it cannot write (a file or a folder that
 * exists; one that does not is its folder's question), in words an operator can act on: the path,
 * its owner and mode, and the user the gateway runs as. Undefined when every one is writable.
 * SQLite opens a file it may not write read-only without a word, so without this check a gateway
 * started as the wrong user looked ready and answered every write with a 500.
 */
export function writeProblem(paths: readonly string[]): string | undefined {
  for (const path of paths) {
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    try {
      accessSync(path, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const kind = st.isDirectory() ? "folder" : "file";
      if (code === "EROFS") return `the ${kind} ${path} is on a read-only file system`;
      const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
      return `the ${kind} ${path} cannot be written by ${runningAs()}: it belongs to ${ownerOf(st.uid)} with mode ${mode}; run the gateway as its owner or give that user write access (chown or chmod the data directory)`;
    }
  }
  return undefined;
}

/** The gateway's own user, named as /etc/passwd names it (os.userInfo answers "unknown" under Bun when $USER is unset). */
function runningAs(): string {
  return ownerOf(process.getuid?.() ?? -1);
}

/** "user <name> (uid <n>)" as /etc/passwd names the uid, or "uid <n>" when it names none. */
function ownerOf(uid: number): string {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const [name, , id] = line.split(":");
      if (name && Number(id) === uid) return `user ${name} (uid ${uid})`;
    }
  } catch {
    // No passwd file to read (a scratch container): the uid alone says it.
  }
  return `uid ${uid}`;
}
