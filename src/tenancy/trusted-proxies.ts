import { BlockList, isIP } from "node:net";

/**
 * The peers whose `X-Forwarded-Host` is believed. Entries are addresses or CIDR ranges
 * (`10.0.0.0/8`, `::1`, `fd00::/8`); an empty list believes nobody.
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [addr, bits] = entry.split("/");
      const family = isIP(addr ?? "");
      if (!addr || family === 0) throw new Error(`trusted proxy "${entry}" is not an IP address or CIDR range`);
      const type = family === 6 ? "ipv6" : "ipv4";
      if (bits === undefined) this.list.addAddress(addr, type);
      else {
        const prefix = Number(bits);
        if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32))
          throw new Error(`trusted proxy "${entry}" has a bad prefix length`);
        this.list.addSubnet(addr, prefix, type);
      }
    }
    this.size = entries.length;
  }

  trusts(peer: string | undefined): boolean {
    if (!peer || this.size === 0) return false;
    const plain = peer.startsWith("::ffff:") && isIP(peer.slice(7)) === 4 ? peer.slice(7) : peer;
    const family = isIP(plain);
    if (family === 0) return false;
    return this.list.check(plain, family === 6 ? "ipv6" : "ipv4");
  }
}

/** The host the client asked for: the first `X-Forwarded-Host` value from a trusted peer, else `Host`. */
export function requestedHost(headers: Headers, peer: string | undefined, trusted: TrustedProxies): string | null {
  if (trusted.trusts(peer)) {
    const forwarded = headers.get("x-forwarded-host");
    if (forwarded) return forwarded.split(",")[0]?.trim() ?? null;
  }
  return headers.get("host");
}
