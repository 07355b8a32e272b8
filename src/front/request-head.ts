import { MAX_HEAD_BYTES, requestHeaderFate } from "../proxy/policy.ts";

/**
 * The plain requests the front door forwards itself. Anything else (another HTTP version, a body in
 * chunks, `Expect`, `Upgrade`, an odd path or header) is not refused here: the connection goes to the
 * full gateway behind it, whose HTTP server judges it. So this reader may be strict and small; it only
 * has to be right about what it accepts.
 */
export interface PlainRequest {
  method: string;
  /** Path and query exactly as sent (origin form). */
  target: string;
  path: string;
  /**
   * Where the header lines to pass on are in the head, as [start, end) pairs of offsets (CRLF
   * included; adjacent lines merged): they go on as the client's own bytes. Those the gateway sets
   * or drops are left out.
   */
  kept: number[];
  host: string;
  authorization: string | null;
  requestId: string | null;
  contentLength: number;
  /** `Connection: close`: the connection ends after this exchange. */
  close: boolean;
}

const REQUEST_LINE = /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\/[!-~]*) HTTP\/1\.1$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Control characters other than HTAB, and a CR or LF that is not part of a CRLF line end. */
const FORBIDDEN = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;
const LENGTH = /^[ \t]*(\d{1,15})[ \t]*$/;
/**
 * Paths and queries whose URL form is the same string (what the gateway's other checks read): no
 * escapes, dot or empty segments or backslashes in the path, nothing a URL parser would re-encode.
 */
const PLAIN_PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9_~!$&'()*+,;=:@.-]+)*\/?$/;
const PLAIN_QUERY = /^[A-Za-z0-9_~!$&()*+,;=:@.\/?%-]*$/;

/** Headers that need the full gateway (checked first): protocol switches and `Expect`. */
const NOT_PLAIN = new Set(["expect", "upgrade"]);

/**
 * The request in `head` (its bytes up to the blank line, as latin1), or undefined when it is not
 * plain. Which headers pass is the forwarding policy's (src/proxy/policy.ts); a head over its size
 * limit is not plain (the full gateway answers 431).
 */
export function readPlainRequest(head: string): PlainRequest | undefined {
  if (head.length + 4 > MAX_HEAD_BYTES || FORBIDDEN.test(head)) return undefined;
  let at = head.indexOf("\r\n");
  const first = REQUEST_LINE.exec(at === -1 ? head : head.slice(0, at));
  if (!first) return undefined;
  const method = first[1] as string;
  const target = first[2] as string;
  const q = target.indexOf("?");
  const path = q === -1 ? target : target.slice(0, q);
  if (!PLAIN_PATH.test(path)) return undefined;
  if (q !== -1 && (!PLAIN_QUERY.test(target.slice(q + 1)) || /_method/i.test(target))) return undefined;

  const kept: number[] = [];
  let host: string | undefined;
  let authorization: string | null = null;
  let requestId: string | null = null;
  let contentLength: number | undefined;
  let close = false;
  while (at !== -1) {
    const start = at + 2;
    at = head.indexOf("\r\n", start);
    const stop = at === -1 ? head.length : at;
    // Offsets into `head`, not a string per line: values are cut out only for the headers read.
    const colon = head.indexOf(":", start);
    if (colon <= start || colon > stop) return undefined;
    const name = head.slice(start, colon).toLowerCase();
    if (!TOKEN.test(name) || NOT_PLAIN.has(name)) return undefined;
    const fate = requestHeaderFate(name);
    // Other body framings, and method overrides (the synced-entity guard reads them), are the full gateway's.
    if (fate === "override" || name === "transfer-encoding") return undefined;
    if (name === "host") {
      if (host !== undefined) return undefined;
      host = head.slice(colon + 1, stop).trim();
    } else if (name === "content-length") {
      // Read exactly as the upstream will: digits between spaces or tabs, nothing else.
      const digits = LENGTH.exec(head.slice(colon + 1, stop));
      if (contentLength !== undefined || !digits) return undefined;
      contentLength = Number(digits[1]);
    } else if (name === "connection") {
      // Only `close` and `keep-alive` are plain; a Connection header naming other headers makes them
      // hop-by-hop, which the full gateway handles.
      for (const token of head.slice(colon + 1, stop).toLowerCase().split(",")) {
        const t = token.trim();
        if (t === "close") close = true;
        else if (t !== "keep-alive" && t !== "") return undefined;
      }
    } else if (name === "authorization") {
      if (authorization !== null) return undefined;
      authorization = head.slice(colon + 1, stop).trim();
    } else if (name === "x-request-id") {
      requestId = head.slice(colon + 1, stop).trim();
    }
    if (fate !== "drop") {
      // The head's last line ends in the blank line's first CRLF, which follows `head`.
      if (kept.at(-1) === start) kept[kept.length - 1] = stop + 2;
      else kept.push(start, stop + 2);
    }
  }
  if (host === undefined || host === "") return undefined;
  return { method, target, path, kept, host, authorization, requestId, contentLength: contentLength ?? 0, close };
}
