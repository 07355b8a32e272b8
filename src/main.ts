#!/usr/bin/env bun
import { Gateway } from "./app.ts";
import { takeFlags } from "./cli/args.ts";
import {
  backupCommand,
  doctorCommand,
  restoreCommand,
  syncReconcileCommand,
  syncStatusCommand,
  tenantsCreate,
  tenantsDelete,
  tenantsList,
  tokenCommand,
} from "./cli/commands.ts";
import { ConfigError, configHelp, loadConfig, type Config } from "./config.ts";

const USAGE = `tenantgate: multi-tenancy gateway for AuthHero

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
  tenantgate restore <id> <file>                  put a backup in place (the current file goes to the trash)

Every command takes the gateway options; \`tenantgate serve --help\` lists them.`;

const out = (line: string) => console.log(line);

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return 0;
  }
  if (args.includes("--help") || args.includes("-h")) {
    console.log(command === "serve" ? `Usage: tenantgate serve [options]\n\nOptions:\n${configHelp()}` : `${USAGE}\n\nOptions:\n${configHelp()}`);
    return 0;
  }
  const own = takeFlags(args, { org: "value", tenant: "value", sub: "value", permissions: "value", "friendly-name": "value", purge: "switch", deep: "switch", all: "switch" });
  // Only `serve` checks tokens; the other commands must not demand an issuer they never use
  // (`token` refuses by itself without --dev).
  const offline = command !== "serve";
  const { config, rest } = loadConfig({ argv: offline ? [...own.rest, "--access-control=false"] : own.rest });
  const flag = (name: string) => {
    const v = own.flags.get(name);
    return typeof v === "string" ? v : undefined;
  };
  const need = (i: number, what: string) => {
    const v = rest[i];
    if (!v) throw new ConfigError(`missing ${what}; see tenantgate --help`);
    return v;
  };

  switch (command) {
    case "serve":
      return serve(config);
    case "token":
      out(
        await tokenCommand(config, {
          org: flag("org"),
          tenant: flag("tenant"),
          sub: flag("sub"),
          permissions: flag("permissions")?.split(",").map((p) => p.trim()).filter(Boolean) ?? DEFAULT_DEV_PERMISSIONS,
        }),
      );
      return 0;
    case "tenants": {
      const sub = need(0, "a tenants subcommand (list, create, delete)");
      if (sub === "list") tenantsList(config, out);
      else if (sub === "create") tenantsCreate(config, rest[1], flag("friendly-name"), out);
      else if (sub === "delete") tenantsDelete(config, need(1, "the tenant id"), own.flags.has("purge"), out);
      else throw new ConfigError(`unknown tenants subcommand "${sub}"`);
      return 0;
    }
    case "health":
      return health(config);
    case "sync": {
      const sub = need(0, "a sync subcommand (status, reconcile)");
      if (sub === "status") return syncStatusCommand(config, out) === 0 ? 0 : 1;
      if (sub === "reconcile") return syncReconcileCommand(config, rest[1], own.flags.has("all"), out) === 0 ? 0 : 1;
      throw new ConfigError(`unknown sync subcommand "${sub}"`);
    }
    case "doctor":
      return doctorCommand(config, own.flags.has("deep"), out) === 0 ? 0 : 1;
    case "backup":
      backupCommand(config, need(0, "the tenant id"), need(1, "the backup file"), out);
      return 0;
    case "restore":
      restoreCommand(config, need(0, "the tenant id"), need(1, "the backup file"), out);
      return 0;
    default:
      throw new ConfigError(`unknown command "${command}"; see tenantgate --help`);
  }
}

const DEFAULT_DEV_PERMISSIONS = ["create:tenants", "read:tenants", "update:tenants", "delete:tenants"];

/** Asks the gateway on this machine whether it is up: the container HEALTHCHECK, without curl in the image. */
async function health(config: Config): Promise<number> {
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  try {
    const res = await fetch(`http://${host.includes(":") ? `[${host}]` : host}:${config.port}/healthz`, { signal: AbortSignal.timeout(2000) });
    out(`healthz: ${res.status}`);
    return res.ok ? 0 : 1;
  } catch (err) {
    out(`healthz: ${(err as Error).message}`);
    return 1;
  }
}

async function serve(config: Config): Promise<number> {
  const gateway = await Gateway.open(config);
  await gateway.listen();
  const stop = async (signal: string) => {
    gateway.log.info({ signal }, "stopping");
    await gateway.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  return new Promise(() => {});
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`tenantgate: ${err.message}`);
    process.exit(2);
  },
);
