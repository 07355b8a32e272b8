import { Database } from "bun:sqlite";

/** SQLite's integrity_check of a file: "ok", or what it found (or why it could not look). */
export function integrity(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.query("PRAGMA integrity_check").all() as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join("; ");
  } catch (err) {
    return (err as Error).message;
  } finally {
    db.close(false);
  }
}
