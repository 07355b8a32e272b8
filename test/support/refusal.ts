import { HttpError } from "../../src/http-error.ts";

/** The HttpError that `fn` throws (or its promise rejects with); fails the test when it throws nothing or something else. */
export async function refusalOf(fn: () => unknown): Promise<HttpError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}
