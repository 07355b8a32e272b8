import { causedBy } from "./cause.ts";

/**
 * The database server could not be reached (refused, reset, gone mid-request): nothing about the
 * data is known, and asking again later may work. A module of its own, importing nothing of the
 * client, so that the error answers (error-response.ts) can tell it without loading it.
 */
export class DatabaseUnreachable extends Error {
  constructor(
    readonly server: string,
    cause: unknown,
  ) {
    super(`the database server at ${server} cannot be reached: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "DatabaseUnreachable";
  }
}

/** Whether a failure is, or was caused by, the database server being unreachable. */
export function isDatabaseUnreachable(err: unknown): boolean {
  return causedBy(err, (e) => e instanceof DatabaseUnreachable);
}
