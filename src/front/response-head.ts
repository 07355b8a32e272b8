import { RESPONSE_DROPPED, UNTYPED_BODY } from "../proxy/policy.ts";

/** The longest upstream response head the front door reads (502 beyond it). */
export const MAX_RESPONSE_HEAD = 64 * 1024;
/** The blank line that ends every HTTP/1.1 head. */
export const CRLFCRLF = Buffer.from("\r\n\r\n");

/** How the body of an upstream response ends (RFC 9112 §6.3). */
export type Framing = { kind: "none" } | { kind: "length"; bytes: number } | { kind: "chunked" } | { kind: "close" };

export interface UpstreamResponseHead {
  status: number;
  /** The status line for the client: HTTP/1.1, the upstream's code and reason. */
  statusLine: string;
  /** The header lines to pass to the client, each ending in CRLF, hop-by-hop ones removed. */
  block: string;
  framing: Framing;
  /** The upstream will close after this response: its connection cannot be reused. */
  close: boolean;
}

const STATUS_LINE = /^HTTP\/1\.[01] ([1-5]\d\d)(?: [^\r]*)?$/;
/**
 * A well-formed head in one pass: the status line, then lines of a token name, a colon and a value
 * without NUL, CR or LF (a bare CR or LF would let the client split a header in two). Whitespace
 * before the colon, or a folded line, does not match either: the gateway answers 502 rather than
 * pass on a header the client could read otherwise.
 */
const HEAD_SHAPE = /^HTTP\/1\.[01] [1-5]\d\d(?: [^\r\n\0]*)?(?:\r\n[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\r\n\0]*)*$/;
/** NUL, and a CR or LF that is not part of a CRLF line end. */
const FORBIDDEN = /\0|\r(?!\n)|(?<!\r)\n/;
/**
 * The headers the gateway acts on: framing, and those the forwarding policy drops from responses
 * (hop-by-hop ones, and `x-request-id`, which the gateway sets itself). All other lines pass untouched.
 */
const ACTED_ON = new RegExp(`\\r\\n(content-length|content-type|${RESPONSE_DROPPED.join("|")})[ \\t]*:([^\\r]*)`, "gi");

/**
 * Reads an upstream response head (its bytes up to the blank line, as latin1). `Transfer-Encoding`
 * stays when the body keeps its chunks on the way through; an Error says what is wrong with the head.
 */
export function readResponseHead(head: string, requestMethod: string): UpstreamResponseHead | Error {
  if (!HEAD_SHAPE.test(head)) return malformed(head);
  const eol = head.indexOf("\r\n");
  const first = eol === -1 ? head : head.slice(0, eol);
  const code = Number(first.slice(9, 12));
  const http10 = first.startsWith("HTTP/1.0");
  let length: number | undefined;
  let transferEncoding: string | undefined;
  let typed = false;
  let close = http10;
  /** Lower-case names of lines to leave out (hop-by-hop, named by Connection, x-request-id). */
  let drop: Set<string> | undefined;
  ACTED_ON.lastIndex = 0;
  for (let m = ACTED_ON.exec(head); m !== null; m = ACTED_ON.exec(head)) {
    const name = (m[1] as string).toLowerCase();
    const value = (m[2] as string).trim();
    if (name === "content-length") {
      if (!/^\d{1,15}$/.test(value) || (length !== undefined && length !== Number(value))) return new Error("the upstream answered with an invalid Content-Length");
      if (length === undefined) length = Number(value);
      else (drop ??= new Set()).add(name); // equal duplicates: pass one
      continue;
    }
    if (name === "content-type") {
      typed = true;
      continue;
    }
    if (name === "transfer-encoding") {
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      continue;
    }
    if (name === "connection") {
      for (const token of value.toLowerCase().split(",")) {
        const t = token.trim();
        if (t === "close") close = true;
        else if (t === "keep-alive" && http10) close = false;
        else if (t !== "") (drop ??= new Set()).add(t);
      }
    }
    (drop ??= new Set()).add(name);
  }
  let block = eol === -1 ? "" : `${head.slice(eol + 2)}\r\n`;
  if (drop) block = withoutLines(block, drop);

  let framing: Framing;
  if (requestMethod === "HEAD" || code < 200 || code === 204 || code === 304) framing = { kind: "none" };
  else if (transferEncoding !== undefined) {
    const codings = transferEncoding.toLowerCase().split(",").map((c) => c.trim());
    if (codings.at(-1) !== "chunked") {
      framing = { kind: "close" };
      close = true;
    } else framing = { kind: "chunked" };
    // A message with both is framed by Transfer-Encoding; its Content-Length must not reach the client.
    if (length !== undefined) return new Error("the upstream answered with both Transfer-Encoding and Content-Length");
  } else if (length !== undefined) framing = { kind: "length", bytes: length };
  else {
    framing = { kind: "close" };
    close = true;
  }
  if (!typed && (framing.kind === "chunked" || framing.kind === "close" || (framing.kind === "length" && framing.bytes > 0))) block += `content-type: ${UNTYPED_BODY}\r\n`;
  return { status: code, statusLine: `HTTP/1.1${first.slice(8)}`, block, framing, close };
}

/** What is wrong with a head that is not well formed (the failure path only: the message for the 502). */
function malformed(head: string): Error {
  if (FORBIDDEN.test(head)) return new Error("the upstream answered with a malformed head");
  const eol = head.indexOf("\r\n");
  if (!STATUS_LINE.test(eol === -1 ? head : head.slice(0, eol))) return new Error("the upstream answered with a malformed status line");
  return new Error("the upstream answered with a malformed header line");
}

/** `block` without the lines whose names are in `names`; of `content-length`, only repeats go. */
function withoutLines(block: string, names: Set<string>): string {
  let out = "";
  let lengthSeen = false;
  for (const line of block.split("\r\n")) {
    if (line === "") continue;
    const name = line.slice(0, line.indexOf(":")).trim().toLowerCase();
    if (name === "content-length") {
      if (lengthSeen) continue;
      lengthSeen = true;
    } else if (names.has(name)) continue;
    out += `${line}\r\n`;
  }
  return out;
}

/**
 * Follows a chunked body through without changing it, to know where it ends: sizes, data, the
 * CRLF after each chunk, and the trailer section after the last one.
 */
export class ChunkedScanner {
  private state: "size" | "ext" | "size-lf" | "data" | "data-cr" | "data-lf" | "trailer" | "trailer-lf" | "done" = "size";
  private remaining = 0;
  private digits = 0;
  private lineLength = 0;

  /** Bytes of `chunk` that belong to the body: `chunk.length` while it goes on, fewer at its end; -1 when malformed. */
  scan(chunk: Uint8Array): number {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === "data") {
        const take = Math.min(this.remaining, chunk.length - i);
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) this.state = "data-cr";
        continue;
      }
      const b = chunk[i++] as number;
      switch (this.state) {
        case "size": {
          const v = hexValue(b);
          if (v >= 0) {
            if (++this.digits > 12) return -1;
            this.remaining = this.remaining * 16 + v;
          } else if (this.digits === 0) return -1;
          else if (b === 0x0d) this.state = "size-lf";
          else if (b === 0x3b || b === 0x20 || b === 0x09) this.state = "ext";
          else return -1;
          break;
        }
        case "ext":
          if (b === 0x0d) this.state = "size-lf";
          else if (b === 0x0a || ++this.lineLength > 4096) return -1;
          break;
        case "size-lf":
          if (b !== 0x0a) return -1;
          this.digits = 0;
          this.lineLength = 0;
          this.state = this.remaining === 0 ? "trailer" : "data";
          break;
        case "data-cr":
          if (b !== 0x0d) return -1;
          this.state = "data-lf";
          break;
        case "data-lf":
          if (b !== 0x0a) return -1;
          this.state = "size";
          break;
        case "trailer":
          // An empty line ends the trailers; any other line is a trailer field, passed through.
          if (b === 0x0d) this.state = "trailer-lf";
          else if (++this.lineLength > 16384) return -1;
          break;
        case "trailer-lf":
          if (b !== 0x0a) return -1;
          if (this.lineLength === 0) {
            this.state = "done";
            return i;
          }
          this.lineLength = 0;
          this.state = "trailer";
          break;
        case "done":
          return i - 1;
      }
    }
    return i;
  }

  get done(): boolean {
    return this.state === "done";
  }
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}
