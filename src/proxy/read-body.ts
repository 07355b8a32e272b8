import { HttpError } from "../http-error.ts";
import { BodyBuffer, type BodyBuffering } from "./body-buffer.ts";
import { forwardingFailure } from "./policy.ts";

/**
 * Reads a request's body whole into a BodyBuffer before the upstream is contacted (policy.ts):
 * 413 once it passes `max` bytes (a declared length over it before any byte is read), 408 when no
 * byte arrives for `stallMs` (the clock restarts with each chunk, so a slow upload that moves is
 * never cut), 499 when the client goes away, 503 when the body cannot be stored. The buffer is the
 * caller's to dispose; on any failure it is disposed here.
 */
export async function readBody(request: Request, buffering: BodyBuffering, max: number, stallMs: number): Promise<BodyBuffer> {
  const length = request.headers.get("content-length");
  const declared = length === null || request.headers.has("transfer-encoding") ? undefined : Number(length);
  if (declared !== undefined && declared > max) throw new HttpError(...forwardingFailure.declaredTooLarge(declared, max));
  const body = new BodyBuffer(buffering, declared);
  if (!request.body) return body;
  const reader = request.body.getReader();
  try {
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new HttpError(...forwardingFailure.bodyStalled(stallMs))), stallMs);
      });
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await Promise.race([reader.read(), stalled]);
      } catch (err) {
        // Bun.serve fails the body's stream when the client goes away mid-body.
        if (request.signal.aborted) throw new HttpError(...forwardingFailure.clientGone());
        throw err;
      } finally {
        clearTimeout(timer);
      }
      if (next.done) {
        // A body that ends short of its declared length was cut by the client's going: never forwarded as if whole.
        if (declared !== undefined && body.size < declared) throw new HttpError(...forwardingFailure.clientGone());
        break;
      }
      if (body.size + next.value.byteLength > max) throw new HttpError(...forwardingFailure.bodyTooLarge(max));
      // The body's file is behind the client: the client waits for the disk.
      if (!body.write(next.value)) await body.whenWritable();
      if (body.error) throw notStored(body.error);
    }
    await body.stored().catch((err: Error) => {
      throw notStored(err);
    });
    return body;
  } catch (err) {
    void reader.cancel().catch(() => {});
    body.dispose();
    throw err;
  }
}

const notStored = (err: NodeJS.ErrnoException) => new HttpError(...forwardingFailure.bodyNotStored(err.code ?? err.message));
