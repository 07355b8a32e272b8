import type { Socket } from "bun";

/**
 * Bytes waiting for a socket that would not take them all (Bun's TCP sockets do not buffer): what
 * one `write` could not hand to the kernel waits here, in order, until the socket drains.
 */
export class Outbox<Data> {
  private queue: Uint8Array[] = [];
  private ending = false;

  constructor(private readonly socket: () => Socket<Data> | undefined) {}

  get empty(): boolean {
    return this.queue.length === 0;
  }

  /**
   * False when some bytes had to wait: the sender pauses its source until `flush` returns true. A
   * string must be ASCII (Bun writes it as UTF-8, so its length is its byte count).
   */
  write(data: Uint8Array | string): boolean {
    return this.send(data, data.length, false);
  }

  /** `write` for the first `length` bytes of a buffer about to be reused: what must wait is copied. */
  writeCopy(bytes: Buffer, length: number): boolean {
    return this.send(bytes, length, true);
  }

  private send(data: Uint8Array | string, length: number, reused: boolean): boolean {
    if (this.queue.length > 0) {
      this.queue.push(waiting(data, 0, length, reused));
      return false;
    }
    const socket = this.socket();
    if (!socket) return true;
    const n = typeof data === "string" ? socket.write(data) : socket.write(data, 0, length);
    if (n < length) {
      this.queue.push(waiting(data, Math.max(n, 0), length, reused));
      return false;
    }
    return true;
  }

  /**
   * Sends FIN once every waiting byte is out (one sent before them would cut them off), keeping the
   * socket's reading side open: the peer still answers what it got.
   */
  shutdown(): void {
    if (this.ending) return;
    this.ending = true;
    if (this.queue.length === 0) this.socket()?.shutdown();
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
    if (this.ending) socket.shutdown();
    return true;
  }
}

/** Bytes `from` to `to` of `data`, to wait in the queue: a copy when the buffer will be reused. */
function waiting(data: Uint8Array | string, from: number, to: number, reused: boolean): Uint8Array {
  const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
  const part = from === 0 && to === bytes.length ? bytes : bytes.subarray(from, to);
  return reused ? Buffer.from(part) : part;
}
