import { parseArgs } from "node:util";

type Values<D> = { [K in keyof D]: D[K] extends number ? number : string };

/**
 * A benchmark's flags, read with util.parseArgs: `--name value` or `--name=value` for each name in
 * `defaults`, a number where the default is one. An unknown flag or a number that is not one stops
 * the run: a typo must not measure the defaults instead.
 */
export function benchArgs<const D extends Record<string, string | number>>(defaults: D, argv: string[] = process.argv.slice(2)): Values<D> & { positionals: string[] } {
  const options = Object.fromEntries(Object.keys(defaults).map((name) => [name, { type: "string" as const }]));
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true });
  const read: Record<string, string | number> = {};
  for (const [name, fallback] of Object.entries(defaults)) {
    const text = values[name] as string | undefined;
    if (text === undefined) read[name] = fallback;
    else if (typeof fallback === "string") read[name] = text;
    else if (text.trim() === "" || !Number.isFinite(Number(text))) throw new Error(`--${name}: expected a number, got "${text}"`);
    else read[name] = Number(text);
  }
  return { ...(read as Values<D>), positionals };
}
