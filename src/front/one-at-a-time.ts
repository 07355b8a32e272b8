import { MAX_HEAD_BYTES } from "../proxy/policy.ts";
import { ChunkedScanner, CRLFCRLF, MAX_RESPONSE_HEAD, readResponseHead } from "./response-head.ts";

/**
 * Lets a handed-over connection's requests reach the full gateway's HTTP server one at a time: the
 * next request's bytes wait until the answer to the one before is complete. Bun.serve closes a
 * connection when a request arrives behind an answer still pending, after it has run the first
 * one, so a pipelining client lost answers to requests the upstream had already carried out.
 *
 * It reads only the framing of requests and answers. Where it cannot be sure of it (a framing it
 * does not read, an upgrade, a head too long), it stops holding anything back and the server's own
 * parser judges the rest, as before.
 */
export class OneAtATime {
  private request: "head" | "length" | "chunked" | "answer" | "open" = "head";
  private response: "idle" | "head" | "length" | "chunked" = "idle";
  private method = "";
  private left = 0;
  private chunks?: ChunkedScanner;
  private answerHead: Buffer | null = null;
  private answerLeft = 0;
  private answerChunks?: ChunkedScanner;

  /** No longer judging: every byte passes as it comes. */
  get passingAll(): boolean {
    return this.request === "open";
  }

  /** The request passed is whole and its answer is not yet complete. */
  get awaitingAnswer(): boolean {
    return this.request === "answer";
  }

  /** The request passed still owes body bytes. */
  get midRequest(): boolean {
    return this.request === "length" || this.request === "chunked";
  }

  /** How many bytes from the start of `pending` (client bytes not yet passed) may go to the server now. */
  take(pending: Buffer): number {
    let at = 0;
    while (at < pending.length) {
      switch (this.request) {
        case "open":
          return pending.length;
        case "answer":
          return at;
        case "head": {
          const end = pending.indexOf(CRLFCRLF, at);
          if (end === -1) {
            if (pending.length - at >= MAX_HEAD_BYTES) return this.giveUp(pending);
            return at;
          }
          const framing = requestFraming(pending.toString("latin1", at, end));
          if (framing === undefined) return this.giveUp(pending);
          this.method = framing.method;
          at = end + 4;
          this.response = "head";
          if (framing.kind === "length" && framing.bytes > 0) {
            this.request = "length";
            this.left = framing.bytes;
          } else if (framing.kind === "chunked") {
            this.request = "chunked";
            this.chunks = new ChunkedScanner();
          } else this.request = "answer";
          break;
        }
        case "length": {
          const take = Math.min(this.left, pending.length - at);
          at += take;
          this.left -= take;
          if (this.left === 0) this.request = "answer";
          break;
        }
        case "chunked": {
          const scanner = this.chunks as ChunkedScanner;
          const n = scanner.scan(pending.subarray(at));
          if (n < 0) return this.giveUp(pending);
          at += n;
          if (scanner.done) this.request = "answer";
          break;
        }
      }
    }
    return at;
  }

  /**
   * Follows the server's bytes to the end of each answer; true when the answer is complete and the
   * next request may go.
   */
  answered(data: Buffer): boolean {
    if (this.request === "open") return false;
    let at = 0;
    while (at < data.length) {
      switch (this.response) {
        case "idle":
          // Bytes with no request waiting for them: the framing is not what was expected.
          this.giveUp();
          return false;
        case "head": {
          this.answerHead = this.answerHead ? Buffer.concat([this.answerHead, data.subarray(at)]) : data.subarray(at);
          const end = this.answerHead.indexOf(CRLFCRLF);
          if (end === -1) {
            if (this.answerHead.length > MAX_RESPONSE_HEAD) this.giveUp();
            return false;
          }
          const head = readResponseHead(this.answerHead.toString("latin1", 0, end), this.method);
          const rest = this.answerHead.subarray(end + 4);
          this.answerHead = null;
          data = rest;
          at = 0;
          if (head instanceof Error || head.status === 101 || head.framing.kind === "close" || head.close) {
            this.giveUp();
            return false;
          }
          if (head.status < 200) continue;
          if (head.framing.kind === "length" && head.framing.bytes > 0) {
            this.response = "length";
            this.answerLeft = head.framing.bytes;
          } else if (head.framing.kind === "chunked") {
            this.response = "chunked";
            this.answerChunks = new ChunkedScanner();
          } else if (this.done()) return at >= data.length || this.answered(data.subarray(at));
          break;
        }
        case "length": {
          const take = Math.min(this.answerLeft, data.length - at);
          at += take;
          this.answerLeft -= take;
          if (this.answerLeft === 0 && this.done()) return at >= data.length || this.answered(data.subarray(at));
          break;
        }
        case "chunked": {
          const scanner = this.answerChunks as ChunkedScanner;
          const n = scanner.scan(data.subarray(at));
          if (n < 0) {
            this.giveUp();
            return false;
          }
          at += n;
          if (scanner.done && this.done()) return at >= data.length || this.answered(data.subarray(at));
          break;
        }
      }
    }
    return false;
  }

  /** The answer ended: the next request may go, unless it came before the request was whole (the server will close). */
  private done(): boolean {
    this.response = "idle";
    if (this.request !== "answer") {
      this.giveUp();
      return false;
    }
    this.request = "head";
    return true;
  }

  private giveUp(pending?: Buffer): number {
    this.request = "open";
    return pending?.length ?? 0;
  }
}

/** How a request's body is framed, read as strictly as the front door reads plain heads; undefined when unsure. */
function requestFraming(head: string): { method: string; kind: "none" | "length" | "chunked"; bytes: number } | undefined {
  if (/[\0\r\n]/.test(head.replace(/\r\n/g, ""))) return undefined;
  const lines = head.split("\r\n");
  const method = /^([A-Z]+) \S+ HTTP\/1\.1$/.exec(lines[0] as string)?.[1];
  if (method === undefined || method === "CONNECT") return undefined;
  let length: number | undefined;
  let chunked = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0 || /[ \t]/.test(line.slice(0, colon))) return undefined;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") {
      if (length !== undefined || !/^\d{1,15}$/.test(value)) return undefined;
      length = Number(value);
    } else if (name === "transfer-encoding") {
      if (chunked || value.toLowerCase() !== "chunked") return undefined;
      chunked = true;
    } else if (name === "upgrade") return undefined;
  }
  if (chunked && length !== undefined) return undefined;
  if (chunked) return { method, kind: "chunked", bytes: 0 };
  return { method, kind: length ? "length" : "none", bytes: length ?? 0 };
}
