import { HttpError } from "../../src/http-error.ts";

/** The HttpError that `fn` throws; fails the test when it throws nothing or something else. */
export function refusalOf(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

/** The HttpError that `fn` throws or its promise rejects with; fails the test when it settles fine or with something else. */
export async function rejectionOf(fn: () => unknown): Promise<HttpError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}
