import pino, { type Logger } from "pino";

export type { Logger };

const BATCH_BYTES = 32 * 1024;
const BATCH_MS = 50;
const WARN = 40;
/** pino sets `lastLevel` before each write on a stream that has this property. */
const WANTS_METADATA: unique symbol = Symbol.for("pino.metadata") as never;

/**
 * Hands log lines to the real destination in batches: at 32 KiB, after 50 ms, at once for a warning
 * or an error, and at exit. sonic-boom measures its whole pending buffer on every write, so one
 * access-log line cost about 3 µs through it and about 1 µs batched (docs/benchmarks.md). The writing
 * itself stays sonic-boom's (a closed reader stops the logging, not the process).
 */
export class BatchedLines implements pino.DestinationStream {
  readonly [WANTS_METADATA] = true;
  lastLevel = 0;
  private lines: string[] = [];
  private bytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly out: pino.DestinationStream) {}

  write(line: string): void {
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= BATCH_BYTES || this.lastLevel >= WARN) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), BATCH_MS);
      this.timer.unref();
    }
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length === 0) return;
    const batch = this.lines.join("");
    this.lines = [];
    this.bytes = 0;
    this.out.write(batch);
  }
}

let stdout: BatchedLines | undefined;

/** One batch for the process's stdout, however many loggers write to it (lines never interleave). */
function stdoutLines(): BatchedLines {
  if (stdout) return stdout;
  // Synchronous writes, one per batch: nothing is ever in flight, so what was logged before an exit
  // (even one by an uncaught error) is out, and the batch keeps the writes few.
  const sonic = pino.destination({ sync: true });
  const lines = new BatchedLines(sonic);
  // pino ends its destination on `beforeExit`: the batch goes out ahead of that, and at `exit`.
  const flush = () => {
    try {
      lines.flush();
    } catch {
      // stdout is gone: nothing more can be written
    }
  };
  process.prependListener("beforeExit", flush);
  process.prependListener("exit", flush);
  stdout = lines;
  return lines;
}

/** JSON logs on stdout; one logger per gateway, children per request carry the request id. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: "tenantgate" }, timestamp: pino.stdTimeFunctions.isoTime }, destination ?? stdoutLines());
}
