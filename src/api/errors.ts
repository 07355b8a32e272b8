import { Elysia } from "elysia";
import { errorToResponse } from "../error-response.ts";
import { HttpError } from "../http-error.ts";
import type { Logger } from "../log.ts";

/**
 * Failures inside the Elysia app, answered as every failure is (error-response.ts). Only what is
 * Elysia's own is read here: its 422 validation answers become 400s with a message that names the
 * field, a body it cannot parse is a 400, a path no route takes is a 404.
 */
export function errorHandling(log: Logger) {
  return new Elysia({ name: "tenantgate/errors" }).onError({ as: "global" }, ({ code, error, request }) => {
    const refusal = error instanceof HttpError ? undefined : elysiaRefusal(code, error, request);
    return errorToResponse(refusal ?? error, (err) => log.error({ err, method: request.method, url: request.url }, "unhandled error"));
  });
}

function elysiaRefusal(code: unknown, error: unknown, request: Request): HttpError | undefined {
  switch (code) {
    case "VALIDATION":
      return new HttpError(400, validationMessage(error, request));
    case "PARSE":
      return new HttpError(400, "the request body is not valid JSON");
    case "NOT_FOUND":
      return new HttpError(404, `no route for ${request.method} ${new URL(request.url).pathname}`);
  }
  return undefined;
}

function validationMessage(error: unknown, request: Request): string {
  const v = error as { type?: string; value?: unknown; all?: { path?: string; message?: string; summary?: string }[] };
  if (v.type === "property") return coercedValueMessage(v, request);
  const first = v.all?.[0];
  const where = v.type === "body" ? "body" : v.type === "query" ? "query" : v.type === "params" ? "path" : (v.type ?? "request");
  if (!first) return `invalid ${where}`;
  const field = first.path ? first.path.replace(/^\//, "").replace(/\//g, ".") : "";
  const message = first.summary ?? first.message ?? "is invalid";
  return field ? `invalid ${where}: ${field}: ${message}` : `invalid ${where}: ${message}`;
}

/**
 * Elysia coerces query numbers and booleans, then checks their bounds without saying which field
 * failed (type "property", empty path). Name it by finding the query parameter that holds the value.
 */
function coercedValueMessage(v: { value?: unknown; all?: { message?: string; summary?: string }[] }, request: Request): string {
  const first = v.all?.[0];
  const message = first?.summary ?? first?.message ?? "is invalid";
  const query = URL.parse(request.url)?.searchParams;
  const names = [...(query ?? [])].filter(([, raw]) => raw.trim() !== "" && (raw === String(v.value) || Number(raw) === v.value)).map(([name]) => name);
  return names.length > 0 ? `invalid query: ${[...new Set(names)].join(", ")}: ${message}` : `invalid request: ${message}`;
}
