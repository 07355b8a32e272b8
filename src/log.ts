import pino, { type Logger } from "pino";

export type { Logger };

/** JSON logs on stdout; one logger per gateway, children per request carry the request id. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: "tenantgate" }, timestamp: pino.stdTimeFunctions.isoTime }, destination ?? pino.destination({ sync: false }));
}
