import { Gateway } from "../app.ts";
import { configHelp } from "../config/index.ts";
import type { Command } from "./command.ts";

/** `tenantgate serve`: runs the gateway until SIGINT or SIGTERM. */
export const serve: Command = {
  name: "serve",
  usage: "  tenantgate serve [options]                      run the gateway",
  help: () => `Usage: tenantgate serve [options]\n\nOptions:\n${configHelp()}`,
  flags: {},
  verifiesTokens: true,
  async run({ config }) {
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
  },
};
