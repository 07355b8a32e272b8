import { readArgs, type ArgKind } from "../config/index.ts";
import { readBoolean } from "../config/index.ts";

/**
 * Takes a command's own flags out of argv and leaves every other argument, as it was, for loadConfig
 * (the gateway options). A switch is on when given alone or with a true word, off with a false one
 * or as `--no-<name>` (config/boolean.ts); the last mention counts.
 */
export function takeFlags(argv: readonly string[], kinds: Readonly<Record<string, Exclude<ArgKind, "file">>>): { flags: Map<string, string | true>; rest: string[] } {
  const flags = new Map<string, string | true>();
  const taken = new Set<number>();
  for (const given of readArgs(argv, kinds).options) {
    if (!given.known) continue;
    for (const at of given.at) taken.add(at);
    if (kinds[given.name] === "switch") {
      const on = readBoolean(given.text ?? "");
      if (on === undefined) throw new Error(`--${given.name} takes no value, or true/false; got "${given.text}"`);
      if (on) flags.set(given.name, true);
      else flags.delete(given.name);
    } else if (given.text === undefined) throw new Error(`--${given.name} needs a value`);
    else flags.set(given.name, given.text);
  }
  return { flags, rest: argv.filter((_, at) => !taken.has(at)) };
}
