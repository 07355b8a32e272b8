import { expect, test } from "bun:test";
import { configHelp } from "../config/index.ts";
import { COMMANDS, runCli, USAGE } from "./index.ts";

const lines: string[] = [];
const io = { out: (line: string) => void lines.push(line), env: {} };
const printed = async (argv: string[]) => {
  lines.length = 0;
  expect(await runCli(argv, io)).toBe(0);
  return lines.join("\n");
};

test("tenantgate --help lists every command, in the words it always had", async () => {
  expect(USAGE).toBe(`tenantgate: multi-tenancy gateway for AuthHero

Usage:
  tenantgate serve [options]                      run the gateway
  tenantgate token [--org T | --tenant T] [--sub S] [--permissions a,b]
                                                  print a dev token (the gateway trusts it with --dev)
  tenantgate tenants list                         list tenants and their state
  tenantgate tenants create [id] [--friendly-name N]
  tenantgate tenants delete <id> [--purge]
  tenantgate health                               exit 0 when the local gateway answers /healthz (for HEALTHCHECK)
  tenantgate sync status                          outbox head, and each tenant's cursor, lag and errors
  tenantgate sync reconcile <id> | --all          compare synced copies with the control plane and repair
  tenantgate doctor [--deep]                      check the data directory (--deep: integrity of every file)
  tenantgate backup <id> <file>                   consistent snapshot of a tenant file
  tenantgate restore <id> <file> [--from-other-deployment]
                                                  put a backup in place (the current file goes to the trash)

Every command takes the gateway options; \`tenantgate serve --help\` lists them.`);
  for (const argv of [[], ["--help"], ["-h"], ["help"]]) expect(await printed(argv)).toBe(USAGE);
});

test("<command> --help: serve's own, the others' the overview and the gateway options", async () => {
  expect(await printed(["serve", "--help"])).toBe(`Usage: tenantgate serve [options]\n\nOptions:\n${configHelp()}`);
  for (const name of ["tenants", "doctor", "frobnicate"]) expect(await printed([name, "-h"])).toBe(`${USAGE}\n\nOptions:\n${configHelp()}`);
});

test("an unknown command is refused, after the options were read", async () => {
  await expect(runCli(["frobnicate"], io)).rejects.toThrow('unknown command "frobnicate"; see tenantgate --help');
  await expect(runCli(["frobnicate", "--port", "abc"], io)).rejects.toThrow("port (--port)");
});

test("only serve verifies tokens, so only serve needs an issuer (serve.test.ts)", () => {
  expect(COMMANDS.filter((c) => c.verifiesTokens).map((c) => c.name)).toEqual(["serve"]);
});

test("the commands agree on what each flag takes, so each command's flags can be taken out for all", () => {
  const kinds = new Map<string, string>();
  for (const command of COMMANDS) {
    for (const [flag, kind] of Object.entries(command.flags)) {
      expect(kinds.get(flag) ?? kind, `--${flag} of ${command.name}`).toBe(kind);
      kinds.set(flag, kind);
    }
  }
});
