import type { DataAdapters } from "@authhero/adapter-interfaces";

/**
 * One `transaction(fn)` call of AuthHero's, over tenant files. The callback names its tenant only in
 * the calls it makes, so the transaction begins on the first call that names one, in that tenant's
 * file (through the file's own adapters' `transaction`, held open until the callback settles), and
 * every later call of the callback runs in it. A call naming another tenant fails: one SQLite file
 * is one transaction, and a silent commit of half the work would be worse than the error.
 */
export class FileTransaction {
  private tenant?: string;
  private trx?: Promise<DataAdapters>;
  private settle?: { commit: () => void; rollback: (err: unknown) => void };
  private finished?: Promise<unknown>;

  /** The adapters bound to this transaction for `tenantId`, beginning it there if nothing has yet. */
  adaptersFor(tenantId: string, own: DataAdapters): Promise<DataAdapters> {
    if (this.tenant !== undefined && this.tenant !== tenantId) {
      return Promise.reject(new Error(`a transaction works in one tenant file: it began in "${this.tenant}", and this call names "${tenantId}"`));
    }
    if (this.trx) return this.trx;
    this.tenant = tenantId;
    if (typeof own.transaction !== "function") {
      // An adapter set without transactions: the calls run as they come, as they would without tenantgate.
      this.trx = Promise.resolve(own);
      return this.trx;
    }
    this.trx = new Promise<DataAdapters>((ready, failed) => {
      this.finished = own.transaction(
        (trx) =>
          new Promise<void>((commit, rollback) => {
            this.settle = { commit, rollback };
            ready(trx);
          }),
      );
      // A transaction that could not begin (the file locked past its busy timeout) fails the call.
      this.finished.catch(failed);
    });
    return this.trx;
  }

  /**
   * Ends the transaction begun in `tenantId`, whose database turned out not to be there (a namespace
   * the server lacks: a client begins before the server answers), rolling it back, so the
   * callback's next call begins one where it names. Whatever was written in a database that is not
   * there is gone with it.
   */
  async abandon(tenantId: string): Promise<void> {
    if (this.tenant !== tenantId) return;
    const { settle, finished } = this;
    this.tenant = this.trx = this.settle = this.finished = undefined;
    settle?.rollback(new Error(`no database for tenant "${tenantId}"`));
    await finished?.catch(() => {});
  }

  /** Ends the transaction as the callback ended: commit after a result, roll back after a throw. */
  async end(err?: unknown): Promise<void> {
    if (!this.trx) return;
    await this.trx;
    if (err === undefined) this.settle?.commit();
    else this.settle?.rollback(err);
    try {
      await this.finished;
    } catch (thrown) {
      if (err === undefined) throw thrown;
    }
  }
}
