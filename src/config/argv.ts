import { parseArgs, type ParseArgsConfig } from "node:util";

/**
 * What a long option takes: a `value` (`--name v`, `--name=v`), nothing as a `switch` (`--name`,
 * `--name=<boolean>`, `--no-name`), or a `file` name: the next argument, whatever it looks like.
 */
export type ArgKind = "value" | "switch" | "file";

export interface GivenOption {
  /** Without the dashes; `--no-x` of a switch x is x. */
  name: string;
  /** What followed `=` or was the next argument; "false" for `--no-x`; undefined when nothing was given. */
  text: string | undefined;
  /** Whether `kinds` lists it. */
  known: boolean;
  /** The positions in argv it was read from: the option's, and its value's when that was the next argument. */
  at: number[];
}

export interface ReadArgs {
  /** Every long option, in the order given (the last of a repeated one is the one that counts). */
  options: GivenOption[];
  /** Everything else, in order: the arguments after `--`, and single-dash ones (`-x`, `-5`) too. */
  positionals: string[];
}

/**
 * Reads argv with node's util.parseArgs. A `value` option does not take a next argument that starts
 * with `--`: `--port --dev` is a --port without its value, then --dev (a value starting with `--`
 * goes after `=`). An option `kinds` does not list takes a value only after `=`. `--` ends the
 * options. Nothing is refused here: the caller decides what an unknown option or a missing value is.
 */
export function readArgs(argv: readonly string[], kinds: Readonly<Record<string, ArgKind>>): ReadArgs {
  const options: NonNullable<ParseArgsConfig["options"]> = {};
  for (const [name, kind] of Object.entries(kinds)) options[name] = { type: kind === "switch" ? "boolean" : "string" };
  const read: ReadArgs = { options: [], positionals: [] };
  readFrom(argv, 0, kinds, options, read);
  return read;
}

function readFrom(argv: readonly string[], offset: number, kinds: Readonly<Record<string, ArgKind>>, options: NonNullable<ParseArgsConfig["options"]>, read: ReadArgs): void {
  const { tokens } = parseArgs({ args: argv.slice(offset), options, strict: false, allowPositionals: true, tokens: true });
  let lastShort = -1;
  for (const token of tokens) {
    if (token.kind === "option-terminator") continue;
    if (token.kind === "positional") {
      read.positionals.push(token.value);
      continue;
    }
    const at = offset + token.index;
    if (!token.rawName.startsWith("--")) {
      // `-abc` is one argument that parseArgs splits into three short options; tenantgate has none.
      if (at !== lastShort) read.positionals.push(argv[at] as string);
      lastShort = at;
      continue;
    }
    const tookNext = token.value !== undefined && !token.inlineValue;
    let name = token.name;
    let text = token.value;
    // `--=x` is an option with an empty name, as `--name=x` is one named name.
    if (name.startsWith("=")) [name, text] = ["", name.slice(1)];
    if (tookNext && kindOf(kinds, name) === "value" && text?.startsWith("--")) {
      read.options.push({ name, text: undefined, known: true, at: [at] });
      readFrom(argv, at + 1, kinds, options, read);
      return;
    }
    if (kindOf(kinds, name) === undefined && name.startsWith("no-") && kindOf(kinds, name.slice(3)) === "switch") [name, text] = [name.slice(3), "false"];
    read.options.push({ name, text, known: kindOf(kinds, name) !== undefined, at: tookNext ? [at, at + 1] : [at] });
  }
}

const kindOf = (kinds: Readonly<Record<string, ArgKind>>, name: string): ArgKind | undefined => (Object.hasOwn(kinds, name) ? kinds[name] : undefined);
