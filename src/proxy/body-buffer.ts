import type { BodyBudget } from "./body-budget.ts";
import { TempFile } from "./temp-file.ts";

/** How request bodies are held until they are whole (--body-buffer-bytes, --body-buffer-total-bytes, --body-temp-dir). */
export interface BodyBuffering {
  /** A body up to this size is held in memory, when the budget has room for it. */
  memoryBytes: number;
  budget: BodyBudget;
  /** Where a larger body's temporary file is made. */
  tempDir: string;
}

/** What the upstream is sent a file-held body in, per read. */
const READ_BYTES = 64 * 1024;

/**
 * One request body, held until it is whole so that no upstream connection waits on a slow client
 * (the forwarding policy, policy.ts): in memory up to `memoryBytes` while the shared budget allows,
 * else in a temporary file. Both transports use it. `dispose` lets go of everything it holds (the
 * budget, the file), whichever way the exchange ended.
 */
export class BodyBuffer {
  /** Bytes received. */
  size = 0;
  private chunks: Uint8Array[] | undefined = [];
  private joined: Uint8Array | undefined;
  private reserved = 0;
  private file: TempFile | undefined;
  private disposed = false;

  /**
   * `declared` is the length the request head gave, if any: memory or file is then chosen once, for
   * the whole body. A body of unknown length (chunks) starts in memory and moves to a file when it
   * grows past the bound or the budget.
   */
  constructor(
    private readonly o: BodyBuffering,
    private readonly declared?: number,
  ) {
    if (declared === undefined) return;
    if (declared <= o.memoryBytes && o.budget.reserve(declared)) this.reserved = declared;
    else this.toFile();
  }

  /** Whether the body is (going) to a temporary file rather than memory. */
  get inFile(): boolean {
    return this.file !== undefined;
  }

  /** Why the body could not be stored, once its file failed. */
  get error(): Error | undefined {
    return this.file?.error;
  }

  /** Adds bytes (the buffer keeps them; do not reuse them). False when the writer should wait for `whenWritable`. */
  write(chunk: Uint8Array): boolean {
    if (this.disposed) return true;
    this.size += chunk.length;
    if (!this.file && this.declared === undefined && (this.size > this.o.memoryBytes || !this.o.budget.reserve(chunk.length))) this.toFile();
    else if (!this.file && this.declared === undefined) this.reserved += chunk.length;
    if (this.file) {
      this.file.append(chunk);
      return this.file.ready;
    }
    (this.chunks as Uint8Array[]).push(chunk);
    return true;
  }

  whenWritable(): Promise<void> {
    return this.file ? this.file.whenReady() : Promise.resolve();
  }

  /** Resolves once every byte is stored; rejects with the file's error. */
  stored(): Promise<void> {
    return this.file ? this.file.finished() : Promise.resolve();
  }

  /** The whole body, when it is in memory. */
  get bytes(): Uint8Array | undefined {
    if (this.joined) return this.joined;
    const chunks = this.chunks;
    if (!chunks) return undefined;
    this.joined = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    this.chunks = [this.joined as Uint8Array];
    return this.joined;
  }

  /** Up to READ_BYTES of the stored body from `position` (memory or file). */
  read(position: number): Promise<Uint8Array> {
    if (this.disposed) return Promise.reject(new Error("the request body was let go"));
    const length = Math.min(READ_BYTES, this.size - position);
    const bytes = this.bytes;
    if (bytes) return Promise.resolve(bytes.subarray(position, position + length));
    return (this.file as TempFile).read(position, length);
  }

  /** The whole body in memory (a file-held one is read back): for the few checks that must look at it. */
  async whole(): Promise<Uint8Array> {
    const bytes = this.bytes;
    if (bytes || !this.file) return bytes ?? new Uint8Array(0);
    await this.file.finished();
    return this.file.read(0, this.size);
  }

  /** The stored body as a stream from its start (for fetch, which then sends it with its length); `onRead` after each piece. */
  stream(onRead?: () => void): ReadableStream<Uint8Array> {
    let at = 0;
    // A plain stream, not a byte stream: enqueueing into a byte stream would detach the memory the chunk is a view of.
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (at >= this.size) return controller.close();
        // Let go of before fetch read it all: the upstream answered without the rest.
        if (this.disposed) return controller.error(new Error("the request body was let go"));
        const chunk = await this.read(at);
        at += chunk.length;
        controller.enqueue(chunk);
        onRead?.();
      },
    });
  }

  /** Lets go of the body: its share of the memory budget, its file. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.o.budget.release(this.reserved);
    this.reserved = 0;
    this.chunks = undefined;
    this.joined = undefined;
    this.file?.close();
  }

  private toFile(): void {
    const file = (this.file = new TempFile(this.o.tempDir));
    for (const chunk of this.chunks ?? []) file.append(chunk);
    this.chunks = undefined;
    this.o.budget.release(this.reserved);
    this.reserved = 0;
  }
}
