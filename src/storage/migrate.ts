import type { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { drizzle } from "drizzle-orm/bun-sqlite";
import type { MigrationMeta } from "drizzle-orm/migrator";
import journal from "./migrations/meta/_journal.json" with { type: "json" };
import m0000 from "./migrations/0000_operations.sql" with { type: "text" };
import m0001 from "./migrations/0001_operation_owner.sql" with { type: "text" };
import m0002 from "./migrations/0002_outbox.sql" with { type: "text" };

// drizzle-kit writes the migrations; drizzle's own migrator applies them. Its folder reader needs the
// files on disk, which a `bun build --compile` binary does not have, so the SQL is embedded here and
// handed to the same migrator. A new migration from `drizzle-kit generate` gets one line below.
const SQL_BY_TAG: Record<string, string> = {
  "0000_operations": m0000,
  "0001_operation_owner": m0001,
  "0002_outbox": m0002,
};

export const MIGRATIONS_TABLE = "tenantgate_migrations";

function embeddedMigrations(): MigrationMeta[] {
  return journal.entries.map((entry) => {
    const text = SQL_BY_TAG[entry.tag];
    if (text === undefined) throw new Error(`migration ${entry.tag} is in the journal but not embedded in migrate.ts`);
    return {
      sql: text.split("--> statement-breakpoint"),
      bps: entry.breakpoints,
      folderMillis: entry.when,
      hash: createHash("sha256").update(text).digest("hex"),
    };
  });
}

/** Brings the `tenantgate_*` tables of the control-plane file up to date. Idempotent. */
export function migrateControlPlane(db: Database): void {
  const orm = drizzle({ client: db });
  // `dialect` and `session` are what drizzle's own bun-sqlite migrator passes; see the note above.
  const inner = orm as unknown as {
    dialect: { migrate(m: MigrationMeta[], s: unknown, c: { migrationsTable: string }): void };
    session: unknown;
  };
  inner.dialect.migrate(embeddedMigrations(), inner.session, { migrationsTable: MIGRATIONS_TABLE });
}
