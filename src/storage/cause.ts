/** Whether `err`, or any error in its chain of causes, passes `test` (drivers wrap what the server said). */
export function causedBy(err: unknown, test: (e: Error) => boolean): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) if (test(e)) return true;
  return false;
}
