import type { Database } from "bun:sqlite";

/**
 * One SQL database, whatever engine holds it: a local SQLite file (bun:sqlite, synchronous inside)
 * or a libSQL server's namespace (over HTTP). Everything is asynchronous because one engine is
 * remote; the local one answers at once. Arguments are positional (`?`).
 */
export type SqlValue = string | number | bigint | boolean | null | Uint8Array;
export type SqlArgs = readonly SqlValue[];
export type Row = Record<string, unknown>;

export interface SqlStatement {
  sql: string;
  args?: SqlArgs;
}

/** What a transaction's callback may do: statements in that transaction. */
export interface SqlWriter {
  all<T = Row>(sql: string, args?: SqlArgs): Promise<T[]>;
  get<T = Row>(sql: string, args?: SqlArgs): Promise<T | undefined>;
  /** Rows as arrays of values in the statement's column order (what drizzle's proxy driver reads). */
  values(sql: string, args?: SqlArgs): Promise<unknown[][]>;
  /** The rows a write changed. */
  run(sql: string, args?: SqlArgs): Promise<number>;
}

export interface SqlDb extends SqlWriter {
  /** Which engine, for the few places that must tell (file-only checks, messages). */
  readonly engine: "sqlite-file" | "libsql";
  /** Statements applied as one atomic write: all or none. Each one's changed rows. */
  batch(statements: readonly SqlStatement[]): Promise<number[]>;
  /**
   * An interactive write transaction: what `fn` does through `tx` commits when it resolves and is
   * rolled back when it throws. Nothing else done through this database lands inside it.
   */
  transaction<T>(fn: (tx: SqlWriter) => Promise<T>): Promise<T>;
  /** Several statements without arguments (a schema), separated by `;`. */
  script(sql: string): Promise<void>;
  close(): void;
}

/**
 * A bun:sqlite connection as an SqlDb. One connection is one transaction at a time, and an
 * interactive transaction spans awaits: while one is open, every other call on this database waits
 * for it, so no statement of another caller lands inside it. The wait is written out in each
 * method (never in a helper of its own): the check and what follows it must run in one synchronous
 * stretch, or two callers could both see the database free.
 */
export class BunSqlDb implements SqlDb {
  readonly engine = "sqlite-file" as const;
  /** Settles when the open transaction (if any) ends. */
  private turn: Promise<void> = Promise.resolve();
  private inTransaction = false;

  constructor(readonly db: Database) {}

  async all<T = Row>(sql: string, args: SqlArgs = []): Promise<T[]> {
    while (this.inTransaction) await this.turn;
    return this.db.query(sql).all(...(args as never[])) as T[];
  }

  async get<T = Row>(sql: string, args: SqlArgs = []): Promise<T | undefined> {
    while (this.inTransaction) await this.turn;
    return (this.db.query(sql).get(...(args as never[])) as T | null) ?? undefined;
  }

  async values(sql: string, args: SqlArgs = []): Promise<unknown[][]> {
    while (this.inTransaction) await this.turn;
    return this.db.query(sql).values(...(args as never[])) as unknown[][];
  }

  async run(sql: string, args: SqlArgs = []): Promise<number> {
    while (this.inTransaction) await this.turn;
    return this.db.query(sql).run(...(args as never[])).changes;
  }

  async batch(statements: readonly SqlStatement[]): Promise<number[]> {
    while (this.inTransaction) await this.turn;
    return this.db.transaction(() => statements.map((s) => this.db.query(s.sql).run(...((s.args ?? []) as never[])).changes)).immediate();
  }

  async script(sql: string): Promise<void> {
    while (this.inTransaction) await this.turn;
    this.db.exec(sql);
  }

  async transaction<T>(fn: (tx: SqlWriter) => Promise<T>): Promise<T> {
    while (this.inTransaction) await this.turn;
    let end!: () => void;
    this.turn = new Promise<void>((resolve) => (end = resolve));
    this.inTransaction = true;
    const tx: SqlWriter = {
      all: async (sql, args = []) => this.db.query(sql).all(...(args as never[])) as never,
      get: async (sql, args = []) => (this.db.query(sql).get(...(args as never[])) ?? undefined) as never,
      values: async (sql, args = []) => this.db.query(sql).values(...(args as never[])) as unknown[][],
      run: async (sql, args = []) => this.db.query(sql).run(...(args as never[])).changes,
    };
    try {
      this.db.exec("BEGIN IMMEDIATE");
      let result: T;
      try {
        result = await fn(tx);
      } catch (err) {
        this.db.exec("ROLLBACK");
        throw err;
      }
      this.db.exec("COMMIT");
      return result;
    } finally {
      this.inTransaction = false;
      end();
    }
  }

  close(): void {
    this.db.close(false);
  }
}
