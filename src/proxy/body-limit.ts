import { HttpError } from "../http-error.ts";
import { forwardingFailure } from "./policy.ts";

/**
 * Passes a request body through while counting it; past `max` bytes the stream fails, which aborts
 * the upstream request, and `exceeded` tells the proxy to answer 413 instead of 502. Used for bodies
 * without a Content-Length (chunked); a declared length over the limit is refused before any byte.
 * `onProgress` is called after each chunk passes and when the body ends; `ended` says whether it has.
 */
export function limitBody(
  body: ReadableStream<Uint8Array>,
  max: number,
  onProgress?: () => void,
): { body: ReadableStream<Uint8Array>; exceeded: () => boolean; ended: () => boolean } {
  let seen = 0;
  let over = false;
  let done = false;
  const counted = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > max) {
          over = true;
          controller.error(new Error(`request body over ${max} bytes`));
          return;
        }
        controller.enqueue(chunk);
        onProgress?.();
      },
      flush() {
        done = true;
        onProgress?.();
      },
    }),
  );
  return { body: counted, exceeded: () => over, ended: () => done };
}

/**
 * Reads a whole body that the gateway must look at, or that is small enough to arrive whole before
 * the upstream is contacted (policy.ts): 413 once it passes `max` bytes, 408 when no byte arrives
 * for `stallMs` (the clock restarts with each chunk, so a slow upload that moves is never cut).
 */
export async function readBodyLimited(request: Request, max: number, stallMs: number): Promise<ArrayBuffer> {
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > max) throw new HttpError(...forwardingFailure.declaredTooLarge(declared, max));
  if (!request.body) return new ArrayBuffer(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let seen = 0;
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HttpError(...forwardingFailure.bodyStalled(stallMs))), stallMs);
    });
    let next: Awaited<ReturnType<typeof reader.read>>;
    try {
      next = await Promise.race([reader.read(), stalled]);
    } catch (err) {
      void reader.cancel().catch(() => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (next.done) break;
    seen += next.value.byteLength;
    if (seen > max) {
      void reader.cancel().catch(() => {});
      throw new HttpError(...forwardingFailure.bodyTooLarge(max));
    }
    chunks.push(next.value);
  }
  const all = new Uint8Array(seen);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return all.buffer;
}
