import type { Socket } from "bun";

/**
 * Bytes waiting for a socket that would not take them all (Bun's TCP sockets do not buffer): what
 * one `write` could not hand to the kernel waits here, in order, until the socket drains.
 */
export class Outbox<Data> {
  private queue: Uint8Array[] = [];

  constructor(private readonly socket: () => Socket<Data> | undefined) {}

  get empty(): boolean {
    return this.queue.length === 0;
  }

  /**
   * False when some bytes had to wait: the sender pauses its source until `flush` returns true. A
   * string must be ASCII (Bun writes it as UTF-8, so its length is its byte count).
   */
  write(data: Uint8Array | string): boolean {
    if (this.queue.length > 0) {
      this.queue.push(typeof data === "string" ? Buffer.from(data, "latin1") : data);
      return false;
    }
    const socket = this.socket();
    if (!socket) return true;
    const n = socket.write(data);
    if (n < data.length) {
      const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
      this.queue.push(bytes.subarray(Math.max(n, 0)));
      return false;
    }
    return true;
  }

  /** `write` for the first `length` bytes of a buffer about to be reused: what must wait is copied. */
  writeCopy(bytes: Buffer, length: number): boolean {
    if (this.queue.length > 0) {
      this.queue.push(Buffer.from(bytes.subarray(0, length)));
      return false;
    }
    const socket = this.socket();
    if (!socket) return true;
    const n = socket.write(bytes, 0, length);
    if (n < length) {
      this.queue.push(Buffer.from(bytes.subarray(Math.max(n, 0), length)));
      return false;
    }
    return true;
  }

  flush(): boolean {
    const socket = this.socket();
    if (!socket) {
      this.queue = [];
      return true;
    }
    while (this.queue.length > 0) {
      const next = this.queue[0] as Uint8Array;
      const n = socket.write(next);
      if (n < next.length) {
        this.queue[0] = next.subarray(Math.max(n, 0));
        return false;
      }
      this.queue.shift();
    }
    return true;
  }
}
