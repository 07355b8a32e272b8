import { randomUUID } from "node:crypto";
import { open, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";

/** The names of request bodies' temporary files (body-temp-dir.ts sweeps leftovers by it). */
export const TEMP_PREFIX = "tenantgate-body-";
export const tempFileName = (pid = process.pid) => `${TEMP_PREFIX}${pid}-${randomUUID()}`;

/** Bytes waiting to be written past which the writer is asked to wait (what the front door lets a client's inbox hold). */
const HIGH_WATER = 256 * 1024;

/**
 * A temporary file for one request body: written in order as the bytes come, read back by position
 * once whole. Its name is unlinked as soon as it is open, so the file lives exactly as long as the
 * handle: whatever ends the request (or the process), nothing is left on disk. Writes and reads go
 * through the thread pool (node:fs/promises), never blocking the event loop; consecutive writes that
 * waited are written together.
 */
export class TempFile {
  private handle: FileHandle | undefined;
  /** Every operation in order: none overlaps another, and the close comes last. */
  private tail: Promise<void>;
  private waiting: Uint8Array[] = [];
  /** Bytes given to `append` and not yet written (those being written included). */
  private pending = 0;
  /** Where the next write goes. */
  private written = 0;
  private flushing = false;
  private failure: Error | undefined;
  private closed = false;
  private readonly path: string;
  private unlinked = false;
  private readyWaiters: (() => void)[] = [];

  constructor(dir: string) {
    this.path = join(dir, tempFileName());
    this.tail = open(this.path, "wx+", 0o600)
      .then(async (handle) => {
        this.handle = handle;
        await unlink(this.path);
        this.unlinked = true;
      })
      .catch((err: Error) => this.fail(err));
  }

  /** Why the file cannot be used, once something failed (a full disk, a directory gone). */
  get error(): Error | undefined {
    return this.failure;
  }

  /** False while more than HIGH_WATER bytes wait to be written: the writer should wait for `whenReady`. */
  get ready(): boolean {
    return this.pending < HIGH_WATER || this.failure !== undefined || this.closed;
  }

  append(bytes: Uint8Array): void {
    if (this.failure || this.closed || bytes.length === 0) return;
    this.waiting.push(bytes);
    this.pending += bytes.length;
    if (this.flushing) return;
    this.flushing = true;
    this.tail = this.tail.then(() => this.flush()).catch((err: Error) => this.fail(err));
  }

  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Resolves once every byte appended so far is written; rejects with what went wrong. */
  finished(): Promise<void> {
    return this.tail.then(() => {
      if (this.failure) throw this.failure;
    });
  }

  /** `length` bytes from `position`, once what was appended before is written. */
  read(position: number, length: number): Promise<Buffer> {
    const result = this.tail.then(async () => {
      if (this.failure) throw this.failure;
      if (this.closed || !this.handle) throw new Error("the body's temporary file is closed");
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await this.handle.read(buffer, 0, length, position);
      if (bytesRead !== length) throw new Error(`the body's temporary file gave ${bytesRead} of ${length} bytes at ${position}`);
      return buffer;
    });
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Closes the file after the operation in flight; what still waited to be written is dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.waiting = [];
    this.wake();
    this.tail = this.tail
      .then(async () => {
        await this.handle?.close();
        // Only when the unlink right after the open failed: the name is still there.
        if (this.handle && !this.unlinked) await unlink(this.path);
      })
      .catch(() => undefined);
  }

  private async flush(): Promise<void> {
    while (this.waiting.length > 0 && !this.failure && !this.closed) {
      const batch = this.waiting;
      this.waiting = [];
      let size = 0;
      for (const b of batch) size += b.length;
      const handle = this.handle;
      if (!handle) throw new Error("the body's temporary file did not open");
      const { bytesWritten } = await handle.writev(batch, this.written);
      // A regular file takes a whole write unless the disk is full.
      if (bytesWritten !== size) throw Object.assign(new Error(`short write to the body's temporary file (${bytesWritten} of ${size} bytes)`), { code: "ENOSPC" });
      this.written += size;
      this.pending -= size;
      if (this.ready) this.wake();
    }
    this.flushing = false;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.flushing = false;
    this.waiting = [];
    this.wake();
  }

  private wake(): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w();
  }
}
