import type { Command } from "./command.ts";

/** `tenantgate health`: asks the gateway on this machine whether it is up (the container HEALTHCHECK, without curl in the image). */
export const health: Command = {
  name: "health",
  usage: "  tenantgate health                               exit 0 when the local gateway answers /healthz (for HEALTHCHECK)",
  flags: {},
  verifiesTokens: false,
  async run({ config, out }) {
    const { host: listening, port } = config.server;
    const host = listening === "0.0.0.0" || listening === "::" ? "127.0.0.1" : listening;
    try {
      const res = await fetch(`http://${host.includes(":") ? `[${host}]` : host}:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
      out(`healthz: ${res.status}`);
      return res.ok ? 0 : 1;
    } catch (err) {
      out(`healthz: ${(err as Error).message}`);
      return 1;
    }
  },
};
