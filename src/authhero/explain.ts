import { mergeOptions } from "./fallback.ts";
import { maskSecrets } from "../secret-options.ts";

/** Where an effective setting comes from. */
export type Origin = "tenant" | "inherited" | "overridden";

export interface ExplainedField {
  field: string;
  value: unknown;
  origin: Origin;
}

const MASK = "********";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Every field of a merged settings object with its effective value and origin: only the tenant sets
 * it (`tenant`), only the control plane (`inherited`), or both, the tenant's value shadowing the
 * control plane's (`overridden`; a nested object is merged as the login adapter merges it). Secrets
 * (`secretKeys`: keys, or dotted paths into nested objects) are masked whatever their origin.
 */
export function explainFields(own: Record<string, unknown> | null | undefined, inherited: Record<string, unknown> | null | undefined, secretKeys: readonly string[]): ExplainedField[] {
  const mine = maskSecrets(own ?? {}, secretKeys, MASK);
  const theirs = maskSecrets(inherited ?? {}, secretKeys, MASK);
  const fields = [...new Set([...Object.keys(theirs), ...Object.keys(mine)])].sort();
  return fields.map((field) => {
    const inTenant = field in mine;
    const origin: Origin = inTenant ? (field in theirs ? "overridden" : "tenant") : "inherited";
    const value = !inTenant ? theirs[field] : isObject(mine[field]) && isObject(theirs[field]) ? mergeOptions(theirs[field], mine[field]) : mine[field];
    return { field, value, origin };
  });
}
