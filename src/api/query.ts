import type { Static, TObject, TSchema } from "@sinclair/typebox";
import { readBoolean } from "../config/index.ts";
import { HttpError } from "../http-error.ts";
import { compiledCheck, firstProblem } from "./type-check.ts";

/**
 * A route's query, read strictly here in the handler: Elysia's own reading is too loose for a
 * gateway (`page=1e308` passed as an integer and overflowed the SQL offset, ` ` read as 0, `0x10` as
 * 16, a repeated parameter silently picked one) and its refusal serializes the rejected value. So no
 * route gives Elysia a query schema; the OpenAPI document learns each route's from `references`.
 *   whole numbers: decimal digits only; booleans: the one true/false rule (config/boolean.ts);
 *   a parameter given twice, or one the route does not take, is refused.
 */
export function readQuery<S extends TObject>(request: Request, schema: S): Static<S> {
  const check = compiledCheck(schema);
  const names = Object.keys(schema.properties);
  const out: Record<string, unknown> = {};
  for (const [name, text] of new URL(request.url).searchParams) {
    // Only the schema's own names: `__proto__` or `constructor` would reach Object's.
    const property = names.includes(name) ? (schema.properties[name] as TSchema) : undefined;
    if (!property) throw refused(`unknown parameter ${JSON.stringify(name.slice(0, 64))}; this route takes ${names.length > 0 ? names.join(", ") : "none"}`);
    if (Object.hasOwn(out, name)) throw refused(`${name}: given more than once; give it once`);
    out[name] = valueOf(name, text, property);
  }
  if (!check.Check(out)) throw refused(firstProblem(check, out));
  return out as Static<S>;
}

/** Query schemas by route path and method, for the OpenAPI plugin's `references`. */
export type QueryReferences = Record<string, Record<string, { query: TObject }>>;

/** Longest whole number read: more digits than any page or count the API takes. */
const MAX_DIGITS = 9;

function valueOf(name: string, text: string, property: TSchema): unknown {
  switch (property.type) {
    case "integer":
      if (!/^\d+$/.test(text) || text.length > MAX_DIGITS) throw refused(`${name}: expected a whole number of at most ${MAX_DIGITS} digits`);
      return Number(text);
    case "boolean": {
      const value = readBoolean(text);
      if (value === undefined) throw refused(`${name}: expected true or false`);
      return value;
    }
    default:
      return text;
  }
}

const refused = (problem: string) => new HttpError(400, `invalid query: ${problem}`);
