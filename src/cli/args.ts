/**
 * Takes a command's own flags out of argv and leaves the rest (gateway options) for loadConfig.
 * `spec` maps a flag to whether it takes a value.
 */
export function takeFlags(argv: readonly string[], spec: Record<string, boolean>): { flags: Map<string, string | true>; rest: string[] } {
  const flags = new Map<string, string | true>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const name = m?.[1];
    if (!m || name === undefined || !(name in spec)) {
      rest.push(arg);
      continue;
    }
    if (!spec[name]) {
      // `--purge=false` must not purge: a switch given a value takes it as a boolean.
      const v = m[2]?.toLowerCase();
      if (v === undefined || ["true", "1", "yes", "on"].includes(v)) flags.set(name, true);
      else if (!["false", "0", "no", "off"].includes(v)) throw new Error(`--${name} takes no value, or true/false; got "${m[2]}"`);
    } else if (m[2] !== undefined) flags.set(name, m[2]);
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) throw new Error(`--${name} needs a value`);
      flags.set(name, next);
      i++;
    }
  }
  return { flags, rest };
}
