/** Room per local port: the longest address text (IPv6 with a zone) is under 64 bytes. */
const SLOT = 64;
const PORTS = 65536;

/**
 * The client behind each connection the front door hands to the gateway's HTTP server, by that
 * connection's local port: the server sees the front door's loopback address and reads the real one
 * here. Memory shared between the two threads, written only by the front door, before the first
 * byte of a connection goes out, so the server never reads it too early. A slot is overwritten, never
 * cleared: a connection's requests may still be read after it closes, and a port is reused only
 * after that.
 */
export class PeerSlots {
  private readonly bytes: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(SLOT * PORTS)) {
    this.bytes = new Uint8Array(buffer);
  }

  write(port: number, peer: string): void {
    const at = port * SLOT;
    const n = peer.length < SLOT ? peer.length : 0;
    for (let i = 0; i < n; i++) this.bytes[at + 1 + i] = peer.charCodeAt(i) & 0x7f;
    // The length last, with a barrier: whoever sees it sees the bytes before it.
    Atomics.store(this.bytes, at, n);
  }

  read(port: number): string | undefined {
    const at = port * SLOT;
    const n = Atomics.load(this.bytes, at);
    if (n === 0) return undefined;
    return String.fromCharCode(...this.bytes.subarray(at + 1, at + 1 + n));
  }
}
