import type { TObject, TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";

const checks = new WeakMap<TObject, TypeCheck<TObject>>();

/** The schema's compiled check, compiled once: the gateway's API checks its bodies and queries with it. */
export function compiledCheck<S extends TObject>(schema: S): TypeCheck<S> {
  let check = checks.get(schema);
  if (!check) checks.set(schema, (check = TypeCompiler.Compile(schema)));
  return check as TypeCheck<S>;
}

/**
 * The first problem a check finds, as `field: rule`: never the value, which may be anything a client
 * sent. A union's own message ("Expected union value") says nothing, so its variants are named.
 */
export function firstProblem(check: TypeCheck<TObject>, value: unknown): string {
  const first = check.Errors(value).First();
  if (!first) return "is invalid";
  const field = first.path.replace(/^\//, "").replace(/\//g, ".");
  const variants = (first.schema as TSchema).anyOf as TSchema[] | undefined;
  const rule = variants ? `expected ${variants.map(describe).join(" or ")}` : first.message;
  return field ? `${field}: ${rule}` : rule;
}

function describe(s: TSchema): string {
  if (s.type === "string" && typeof s.maxLength === "number") return `a string of at most ${s.maxLength} characters`;
  return s.type === "null" ? "null" : `a ${String(s.type)}`;
}
