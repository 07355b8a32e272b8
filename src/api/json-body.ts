import type { Static, TObject } from "@sinclair/typebox";
import type { TypeCheck } from "@sinclair/typebox/compiler";
import { parseBoundedJson } from "../bounded-json.ts";
import { HttpError } from "../http-error.ts";
import { compiledCheck, firstProblem } from "./type-check.ts";

/**
 * The body of a request to the gateway's own API, read only once the route has checked the token
 * and its permission (its routes take `parse: "none"`, so Elysia never parses or validates a body:
 * its validation error serializes the rejected value, with indentation outside production, which a
 * deeply nested body turns into minutes of CPU and gigabytes). The size is bounded before this by
 * the control-plane gate's Content-Length rule; the nesting by `parseBoundedJson`.
 */
export async function readJsonBody<S extends TObject>(request: Request, schema: S): Promise<Static<S>> {
  const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") throw new HttpError(415, "the gateway's API takes JSON bodies: send Content-Type: application/json");
  const value = parseBoundedJson(await request.text());
  const check = compiledCheck(schema);
  if (!check.Check(value)) throw new HttpError(400, `invalid body: ${problemOf(check, schema, value)}`);
  return value;
}

/** The JSON schema of a body, for the route's OpenAPI `requestBody` (the route itself takes none). */
export function documentedBody(schema: TObject) {
  return { requestBody: { required: true, content: { "application/json": { schema } } } };
}

/** The first problem, by field and rule; never the value, which may be anything a client sent. */
function problemOf(check: TypeCheck<TObject>, schema: TObject, value: unknown): string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "expected a JSON object";
  const fields = Object.keys(schema.properties);
  const unknown = Object.keys(value).find((k) => !fields.includes(k));
  if (unknown !== undefined) return `unknown field ${JSON.stringify(unknown.slice(0, 64))}; the fields are ${fields.join(", ")}`;
  if (Object.keys(value).length === 0 && schema.minProperties) return `give at least one of ${fields.join(", ")}`;
  return firstProblem(check, value);
}
