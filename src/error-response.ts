import { HttpError } from "./http-error.ts";
import { isDatabaseUnreachable, TenantFileError } from "./storage/files.ts";

/** What the client is told about a failure the gateway did not expect; the cause goes to the log. */
const INTERNAL = "internal error; see the gateway's log";

/**
 * The answer for any failure, whichever path it took (the Elysia app, the gateway outside it, the
 * server's last resort): a refusal is its own answer; a tenant file that cannot be opened is that
 * tenant's 503, and so is a database server that cannot be reached; anything else is a 500 that
 * shows no detail, and `unexpected` logs the cause.
 */
export function errorToHttpError(err: unknown, unexpected?: (err: unknown) => void): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof TenantFileError) return new HttpError(503, `tenant "${err.tenantId}" is unavailable: its file is ${err.problem}`);
  if (isDatabaseUnreachable(err)) return new HttpError(503, "the database server cannot be reached; try again shortly");
  unexpected?.(err);
  return new HttpError(500, INTERNAL);
}

/** The one place a failure becomes a Response (the front door writes the same HttpError as bytes). */
export function errorToResponse(err: unknown, unexpected?: (err: unknown) => void): Response {
  return errorToHttpError(err, unexpected).toResponse();
}
