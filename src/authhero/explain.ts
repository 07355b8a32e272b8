/** Where an effective setting comes from. */
export type Origin = "tenant" | "inherited" | "overridden";

export interface ExplainedField {
  field: string;
  value: unknown;
  origin: Origin;
}

const MASK = "********";

/**
 * Every field of a merged settings object with its effective value and origin: only the tenant sets
 * it (`tenant`), only the control plane (`inherited`), or both, the tenant's value shadowing the
 * control plane's (`overridden`). Secret fields are masked whatever their origin.
 */
export function explainFields(own: Record<string, unknown> | null | undefined, inherited: Record<string, unknown> | null | undefined, secretKeys: readonly string[]): ExplainedField[] {
  const mine = own ?? {};
  const theirs = inherited ?? {};
  const fields = [...new Set([...Object.keys(theirs), ...Object.keys(mine)])].sort();
  return fields.map((field) => {
    const inTenant = field in mine;
    const origin: Origin = inTenant ? (field in theirs ? "overridden" : "tenant") : "inherited";
    const value = inTenant ? mine[field] : theirs[field];
    return { field, value: secretKeys.includes(field) && value !== undefined && value !== null ? MASK : value, origin };
  });
}
