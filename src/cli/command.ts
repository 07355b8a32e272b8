import { ConfigError, type Config } from "../config/index.ts";
import type { ArgKind } from "../config/index.ts";

export type Out = (line: string) => void;

/** What a command is run with. */
export interface Invocation {
  config: Config;
  /** The positional arguments after the command's name (`tenants delete acme`: delete, acme). */
  args: string[];
  /** The flags of the commands: a value flag's text, `true` for a switch that is on. */
  flags: ReadonlyMap<string, string | true>;
  out: Out;
}

/** One `tenantgate <name>`: its flags, its lines in `tenantgate --help`, and what it does. */
export interface Command {
  name: string;
  /** Its lines in `tenantgate --help`, indented and aligned as they appear there. */
  usage: string;
  /** Its own `--help`; without one, `tenantgate --help` and the gateway options. */
  help?: () => string;
  flags: Readonly<Record<string, Exclude<ArgKind, "file">>>;
  /**
   * Whether it verifies tokens, and so needs to know whose to believe: only then is an issuer
   * required (with access control on and no --dev).
   */
  verifiesTokens: boolean;
  /** The exit code. */
  run(invocation: Invocation): number | Promise<number>;
}

/** The value flag `name`, or undefined when it was not given. */
export function valueFlag(invocation: Invocation, name: string): string | undefined {
  const value = invocation.flags.get(name);
  return typeof value === "string" ? value : undefined;
}

/** The positional argument at `i`, which the command cannot do without. */
export function required(invocation: Invocation, i: number, what: string): string {
  const value = invocation.args[i];
  if (!value) throw new ConfigError(`missing ${what}; see tenantgate --help`);
  return value;
}
