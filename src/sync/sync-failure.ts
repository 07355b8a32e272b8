/** Why a tenant's sync failed, as the metrics count it. */
export type FailureReason = "busy" | "missing" | "corrupt" | "schema" | "other";

/** Reads SQLite's error: its code where it has one, else its message. */
export function failureReason(err: Error): FailureReason {
  const text = `${(err as { code?: string }).code ?? ""} ${err.message}`;
  if (/BUSY|LOCKED|database is locked/i.test(text)) return "busy";
  if (/missing|CANTOPEN|unable to open|no such file/i.test(text)) return "missing";
  if (/CORRUPT|NOTADB|not a database|malformed/i.test(text)) return "corrupt";
  if (/no such (table|column)|has no column/i.test(text)) return "schema";
  return "other";
}
