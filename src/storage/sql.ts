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

/** What a read snapshot's callback may do: queries that all see the database as it was at one moment. */
export interface SqlReader {
  all<T = Row>(sql: string, args?: SqlArgs): Promise<T[]>;
  get<T = Row>(sql: string, args?: SqlArgs): Promise<T | undefined>;
  /** Rows as arrays of values in the statement's column order (what drizzle's proxy driver reads). */
  values(sql: string, args?: SqlArgs): Promise<unknown[][]>;
}

/** What a transaction's callback may do: statements in that transaction. */
export interface SqlWriter extends SqlReader {
  /** The rows a write changed. */
  run(sql: string, args?: SqlArgs): Promise<number>;
}

export interface SqlDb extends SqlWriter {
  /** Which engine, for the few places that must tell (file-only checks, messages). */
  readonly engine: "sqlite-file" | "libsql";
  /** Statements applied as one atomic write: all or none. Each one's changed rows. */
  batch(statements: readonly SqlStatement[]): Promise<number[]>;
  /** `batch`, answering each statement's rows too (a SELECT among the writes): one request to a server. */
  batchRows(statements: readonly SqlStatement[]): Promise<{ changes: number; rows: Row[] }[]>;
  /**
   * An interactive write transaction: what `fn` does through `tx` commits when it resolves and is
   * rolled back when it throws. Nothing else done through this database lands inside it.
   */
  transaction<T>(fn: (tx: SqlWriter) => Promise<T>): Promise<T>;
  /**
   * A read-only transaction: every query `fn` makes through `r` sees one state of the database, so
   * reads that belong together (a head and the rows it stands for) agree although others commit
   * meanwhile. It holds no write lock.
   */
  snapshot<T>(fn: (r: SqlReader) => Promise<T>): Promise<T>;
  /** Several statements without arguments (a schema), separated by `;`. */
  script(sql: string): Promise<void>;
  close(): void;
}

/**
 * A bun:sqlite connection as an SqlDb. One connection is one transaction at a time, and an
 * interactive transaction spans awaits: while one is open, every other call on this database waits
 * for it, so no statement of another caller lands inside it. The wait is written out in each
 * method (never in a helper that only waits): the check and what follows it must run in one synchronous
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

  async batchRows(statements: readonly SqlStatement[]): Promise<{ changes: number; rows: Row[] }[]> {
    while (this.inTransaction) await this.turn;
    return this.db
      .transaction(() =>
        statements.map((s) => {
          const rows = this.db.query(s.sql).all(...((s.args ?? []) as never[])) as Row[];
          return { changes: (this.db.query("SELECT changes() AS n").get() as { n: number }).n, rows };
        }),
      )
      .immediate();
  }

  async script(sql: string): Promise<void> {
    while (this.inTransaction) await this.turn;
    this.db.exec(sql);
  }

  transaction<T>(fn: (tx: SqlWriter) => Promise<T>): Promise<T> {
    return this.exclusively("BEGIN IMMEDIATE", fn);
  }

  snapshot<T>(fn: (r: SqlReader) => Promise<T>): Promise<T> {
    // DEFERRED: the read transaction (WAL's snapshot) starts at the first query and takes no write lock.
    return this.exclusively("BEGIN DEFERRED", fn);
  }

  /** A transaction begun with `begin`, spanning awaits, with every other call on this connection queued behind it. */
  private async exclusively<T>(begin: string, fn: (tx: SqlWriter) => Promise<T>): Promise<T> {
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
      this.db.exec(begin);
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
