import { ConfigError, configHelp, loadConfig } from "../config/index.ts";
import { takeFlags } from "./args.ts";
import { backup } from "./backup.ts";
import type { Command, Out } from "./command.ts";
import { doctor } from "./doctor.ts";
import { health } from "./health.ts";
import { restore } from "./restore.ts";
import { serve } from "./serve.ts";
import { sync } from "./sync.ts";
import { tenants } from "./tenants.ts";
import { token } from "./token.ts";

/** Every command, in the order `tenantgate --help` lists them. */
export const COMMANDS: readonly Command[] = [serve, token, tenants, health, sync, doctor, backup, restore];

export const USAGE = `tenantgate: multi-tenancy gateway for AuthHero

Usage:
${COMMANDS.map((c) => c.usage).join("\n")}

Every command takes the gateway options; \`tenantgate serve --help\` lists them.`;

// Every command's flags are taken out whichever command runs, so a flag given to the wrong command
// is ignored there rather than refused as an unknown gateway option (as it always was).
const COMMAND_FLAGS = Object.assign({}, ...COMMANDS.map((c) => c.flags)) as Command["flags"];

/** Runs `tenantgate <argv>`; the exit code. Bad options and arguments throw (ConfigError and others). */
export async function runCli(argv: readonly string[], io: { out?: Out; env?: Record<string, string | undefined> } = {}): Promise<number> {
  const out = io.out ?? ((line: string) => console.log(line));
  const [name, ...args] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    out(USAGE);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (args.includes("--help") || args.includes("-h")) {
    out(command?.help?.() ?? `${USAGE}\n\nOptions:\n${configHelp()}`);
    return 0;
  }
  const own = takeFlags(args, COMMAND_FLAGS);
  const { config, rest } = loadConfig({ argv: own.rest, env: io.env }, { verifiesTokens: command?.verifiesTokens ?? false });
  if (!command) throw new ConfigError(`unknown command "${name}"; see tenantgate --help`);
  return command.run({ config, args: rest, flags: own.flags, out });
}
