import { createClient, type Client, type InArgs, type InStatement, type ResultSet, type Transaction } from "@libsql/client/web";
import { causedBy } from "./cause.ts";
import type { Row, SqlArgs, SqlDb, SqlReader, SqlStatement, SqlWriter } from "./sql.ts";
import { DatabaseUnreachable } from "./unreachable.ts";

/**
 * A libSQL server (sqld with namespaces, or Turso) as tenantgate's engine: each database is a
 * namespace. sqld picks a request's namespace from the first label of its Host header
 * (`acme.db` → acme), so a client for one namespace is an ordinary client whose fetch sets that
 * header. The pure-JavaScript HTTP client is used (`@libsql/client/web`): the native driver keeps
 * memory per open and close under Bun, and a server needs none of it.
 */
export interface LibsqlServer {
  /** The server's HTTP address (`http://127.0.0.1:8081`), not a namespace's. */
  url: string;
  /** Turso and servers started with JWT auth require one. */
  authToken?: string;
}

/** A namespace the server does not hold (sqld answers 404). */
export class NamespaceMissing extends Error {
  constructor(readonly namespace: string) {
    super(`the libSQL server has no namespace "${namespace}"`);
    this.name = "NamespaceMissing";
  }
}

/** How long a 404 for a namespace that exists is retried: sqld answers it while it reloads an evicted one. */
export interface MissingRetry {
  attempts: number;
  firstMs: number;
}

/**
 * sqld keeps at most --max-active-namespaces loaded; one evicted answers 404 for a moment while it
 * loads, or 500 when its load fails because the evicted instance still holds it.
 */
const RETRY_EVICTED: MissingRetry = { attempts: 6, firstMs: 25 };
/** How long a busy database is waited for: sqld takes seconds to reload an evicted namespace that had work open. */
const RETRY_BUSY: MissingRetry = { attempts: 8, firstMs: 50 };

/**
 * One namespace as an SqlDb. With `retry` (the default) its 404s are taken for sqld reloading an
 * evicted namespace and asked again; what is left, or any 404 without `retry`, is `NamespaceMissing`.
 */
export class LibsqlDb implements SqlDb {
  readonly engine = "libsql" as const;
  readonly client: Client;

  /** `client`: one already made for this namespace (namespaceClient), to share it. */
  constructor(
    readonly server: LibsqlServer,
    readonly namespace: string,
    retry: MissingRetry | null = RETRY_EVICTED,
    client?: Client,
  ) {
    this.client = client ?? namespaceClient(server, namespace, retry);
  }

  async all<T = Row>(sql: string, args: SqlArgs = []): Promise<T[]> {
    return rowsOf<T>(await this.call(() => this.client.execute({ sql, args: args as InArgs })));
  }

  async get<T = Row>(sql: string, args: SqlArgs = []): Promise<T | undefined> {
    return (await this.all<T>(sql, args))[0];
  }

  async values(sql: string, args: SqlArgs = []): Promise<unknown[][]> {
    return valuesOf(await this.call(() => this.client.execute({ sql, args: args as InArgs })));
  }

  async run(sql: string, args: SqlArgs = []): Promise<number> {
    return (await this.call(() => this.client.execute({ sql, args: args as InArgs }))).rowsAffected;
  }

  async batch(statements: readonly SqlStatement[]): Promise<number[]> {
    const stmts: InStatement[] = statements.map((s) => ({ sql: s.sql, args: (s.args ?? []) as InArgs }));
    return (await this.call(() => this.client.batch(stmts, "write"))).map((r) => r.rowsAffected);
  }

  async batchRows(statements: readonly SqlStatement[]): Promise<{ changes: number; rows: Row[] }[]> {
    const stmts: InStatement[] = statements.map((s) => ({ sql: s.sql, args: (s.args ?? []) as InArgs }));
    return (await this.call(() => this.client.batch(stmts, "write"))).map((r) => ({ changes: r.rowsAffected, rows: rowsOf<Row>(r) }));
  }

  async script(sql: string): Promise<void> {
    await this.call(() => this.client.executeMultiple(sql));
  }

  transaction<T>(fn: (tx: SqlWriter) => Promise<T>): Promise<T> {
    return this.interactive("write", fn);
  }

  snapshot<T>(fn: (r: SqlReader) => Promise<T>): Promise<T> {
    // A read transaction holds one connection of the server's, and with it one snapshot of the database.
    return this.interactive("read", fn);
  }

  /**
   * A transaction refused as busy (SQLITE_BUSY: the database is locked, as sqld answers while it
   * reloads an evicted namespace that had work open), or that the server ended for taking too long
   * (TRANSACTION_TIMEOUT, when its statements waited on such a reload), is rolled back and run again
   * from the start: nothing it did was committed, and `fn` does nothing but statements through `tx`.
   */
  private async interactive<T>(mode: "write" | "read", fn: (tx: SqlWriter) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(mode, fn);
      } catch (err) {
        if (!(isBusy(err) || isTransactionTimeout(err)) || attempt >= RETRY_BUSY.attempts) throw err;
        await Bun.sleep(RETRY_BUSY.firstMs * 2 ** (attempt - 1));
      }
    }
  }

  private async once<T>(mode: "write" | "read", fn: (tx: SqlWriter) => Promise<T>): Promise<T> {
    const tx: Transaction = await this.call(() => this.client.transaction(mode));
    const writer: SqlWriter = {
      all: async (sql, args = []) => rowsOf(await tx.execute({ sql, args: args as InArgs })),
      get: async (sql, args = []) => rowsOf(await tx.execute({ sql, args: args as InArgs }))[0] as never,
      values: async (sql, args = []) => valuesOf(await tx.execute({ sql, args: args as InArgs })),
      run: async (sql, args = []) => (await tx.execute({ sql, args: args as InArgs })).rowsAffected,
    };
    try {
      const result = await fn(writer);
      await tx.commit();
      return result;
    } catch (err) {
      await tx.rollback().catch(() => {});
      throw err;
    } finally {
      tx.close();
    }
  }

  close(): void {
    this.client.close();
  }

  /**
   * One request; a 404 left after the client's eviction retries means the namespace is not there.
   * One refused as busy ran nothing (a statement that cannot take its lock does not apply; a batch
   * is one transaction) and is asked again.
   */
  private async call<R>(request: () => Promise<R>): Promise<R> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request();
      } catch (err) {
        if (isNotFound(err)) throw new NamespaceMissing(this.namespace);
        if (!isBusy(err) || attempt >= RETRY_BUSY.attempts) throw err;
        await Bun.sleep(RETRY_BUSY.firstMs * 2 ** (attempt - 1));
      }
    }
  }
}

/**
 * A client whose every request goes to `namespace` (sqld reads it from the Host header). With
 * `retry`, a 404 is asked again a few times, waiting longer each time: sqld answers it for an
 * existing namespace it has evicted and is loading (and a 500 for one it failed to load, see
 * `failedToLoad`). A request answered 404 ran nothing, so asking
 * again is safe; the body is kept to send again. A request the server never answered fails with
 * `DatabaseUnreachable`.
 */
export function namespaceClient(server: LibsqlServer, namespace: string, retry: MissingRetry | null = RETRY_EVICTED): Client {
  const host = `${namespace}.db`;
  return createClient({
    url: server.url,
    authToken: server.authToken,
    fetch: async (input: Request | string | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      const headers = new Headers(request.headers);
      headers.set("host", host);
      const body = request.body ? await request.arrayBuffer() : undefined;
      for (let attempt = 1; ; attempt++) {
        const response = await fetch(request.url, { method: request.method, headers, body, signal: request.signal }).catch((err: unknown) => {
          // No answer at all (refused, reset, the server gone mid-request): not the data's fault, and
          // told apart from it, so callers answer 503 rather than an internal error.
          throw request.signal?.aborted ? err : new DatabaseUnreachable(server.url, err);
        });
        if (!retry || attempt >= retry.attempts || !(response.status === 404 || (await failedToLoad(response)))) return response;
        await response.body?.cancel();
        await Bun.sleep(retry.firstMs * 2 ** (attempt - 1));
      }
    },
  } as Parameters<typeof createClient>[0]);
}

/**
 * Whether sqld answered 500 because it could not load the namespace: it checkpoints a namespace's
 * WAL as it loads it, and while the instance it evicted still holds the file that fails
 * ("Checkpoint failed: wal_checkpoint_v2 error code 5", SQLITE_BUSY). Nothing ran, as with its 404.
 */
async function failedToLoad(response: Response): Promise<boolean> {
  return response.status === 500 && /checkpoint failed/i.test(await response.clone().text());
}

/** SQLITE_BUSY from the server: the database was locked (sqld reloading an evicted namespace with work open on it). */
export function isBusy(err: unknown): boolean {
  return causedBy(err, (e) => /SQLITE_BUSY|database is locked/i.test(e.message) || (e as { code?: unknown }).code === "SQLITE_BUSY");
}

/** The server ended an interactive transaction that stayed open past its limit: rolled back. */
function isTransactionTimeout(err: unknown): boolean {
  return causedBy(err, (e) => (e as { code?: unknown }).code === "TRANSACTION_TIMEOUT" || /TRANSACTION_TIMEOUT/.test(e.message));
}

/** Whether a failure is the server's 404, no such namespace (as the client reports it, or as NamespaceMissing). */
export function isNotFound(err: unknown): boolean {
  return causedBy(err, (e) => e instanceof NamespaceMissing || (e as { status?: unknown }).status === 404);
}

function valuesOf(result: ResultSet): unknown[][] {
  return result.rows.map((row) => Array.from(row));
}

function rowsOf<T>(result: ResultSet): T[] {
  // libSQL's rows are arrays with column names as extra keys; tenantgate reads plain objects.
  return result.rows.map((row) => {
    const out: Row = {};
    result.columns.forEach((column, i) => (out[column] = row[i]));
    return out as T;
  });
}

/**
 * sqld's admin API: namespaces made, forked and removed. Turso's platform API differs and is not
 * spoken here (its databases are made with its own tools).
 */
export class SqldAdmin {
  constructor(readonly adminUrl: string) {}

  /** Makes an empty namespace; true when it was made, false when it already existed. */
  async create(namespace: string): Promise<boolean> {
    const res = await this.request("POST", `/v1/namespaces/${encodeURIComponent(namespace)}/create`, {});
    if (res.ok) return true;
    const text = await res.text();
    if (/already exists/i.test(text)) return false;
    throw new Error(`the libSQL server did not make namespace "${namespace}": ${res.status} ${text.slice(0, 200)}`);
  }

  /** A copy of `from` under a new name (sqld copies the namespace's database whole). */
  async fork(from: string, to: string): Promise<void> {
    const res = await this.request("POST", `/v1/namespaces/${encodeURIComponent(from)}/fork/${encodeURIComponent(to)}`, {});
    if (!res.ok) throw new Error(`the libSQL server did not fork namespace "${from}" into "${to}": ${res.status} ${(await res.text()).slice(0, 200)}`);
  }

  /** Removes a namespace and its data; false when there was none. */
  async remove(namespace: string): Promise<boolean> {
    const res = await this.request("DELETE", `/v1/namespaces/${encodeURIComponent(namespace)}`);
    if (res.ok) return true;
    const text = await res.text();
    if (res.status === 404 || /does not exist|doesn't exist|not found/i.test(text)) return false;
    throw new Error(`the libSQL server did not remove namespace "${namespace}": ${res.status} ${text.slice(0, 200)}`);
  }

  /** Whether the server holds the namespace. */
  async exists(namespace: string): Promise<boolean> {
    const res = await this.request("GET", `/v1/namespaces/${encodeURIComponent(namespace)}/config`);
    await res.body?.cancel();
    if (res.ok) return true;
    if (res.status === 404) return false;
    throw new Error(`the libSQL server did not say whether namespace "${namespace}" exists: ${res.status}`);
  }

  private request(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(new URL(path, this.adminUrl), {
      method,
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }
}
