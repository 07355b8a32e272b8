import { HttpError } from "../http-error.ts";

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

/** Reads a whole body that the gateway must look at, refusing (413) once it passes `max` bytes. */
export async function readBodyLimited(request: Request, max: number): Promise<ArrayBuffer> {
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > max) throw new HttpError(413, `request body of ${declared} bytes is over the limit of ${max}`);
  if (!request.body) return new ArrayBuffer(0);
  const chunks: Uint8Array[] = [];
  let seen = 0;
  for await (const chunk of request.body) {
    seen += chunk.byteLength;
    if (seen > max) throw new HttpError(413, `request body is over the limit of ${max} bytes`);
    chunks.push(chunk);
  }
  const all = new Uint8Array(seen);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return all.buffer;
}
