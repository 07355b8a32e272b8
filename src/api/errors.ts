import { Elysia } from "elysia";
import { errorResponse, HttpError } from "../http-error.ts";
import type { Logger } from "../log.ts";
import { TenantFileError } from "../storage/pool.ts";

/**
 * The one place where failures become responses. Every refusal is Auth0-style
 * `{statusCode, error, message}`; Elysia's 422 validation answers become 400s with a message that
 * names the field; anything unexpected is a 500 that logs the cause and shows no stack trace.
 */
export function errorHandling(log: Logger) {
  return new Elysia({ name: "tenantgate/errors" }).onError({ as: "global" }, ({ code, error, request }) => {
    if (error instanceof HttpError) return error.toResponse();
    if (error instanceof TenantFileError) return errorResponse(503, `tenant "${error.tenantId}" is unavailable: its file is ${error.problem}`);
    switch (code) {
      case "VALIDATION":
        return errorResponse(400, validationMessage(error, request));
      case "PARSE":
        return errorResponse(400, "the request body is not valid JSON");
      case "NOT_FOUND":
        return errorResponse(404, `no route for ${request.method} ${new URL(request.url).pathname}`);
    }
    log.error({ err: error, method: request.method, url: request.url }, "unhandled error");
    return errorResponse(500, "internal error; see the gateway's log");
  });
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
