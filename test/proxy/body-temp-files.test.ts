import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeDir, run, tempDir } from "../cli/spawn.ts";
import { openMany, startGatewayProcess, type GatewayProcess, type RawClient } from "../support/gateway-process.ts";
import { closedPort, startRecordingUpstream, type RecordingUpstream } from "../support/proxy-upstream.ts";
import { until } from "../support/until.ts";

// A request body over --body-buffer-bytes waits for its end in a temporary file (issue 18). The
// file has no name on disk from the moment it is open, and the gateway's descriptor on it goes
// whichever way the exchange ends: answered, stalled (408), over the limit (413), the upstream down
// (502). Names left by a process killed between open and unlink are swept at the next start; a
// directory that cannot be used stops the start, or (gone while serving) fails the request (503).

const ARGS = ["--body-buffer-bytes", "1024", "--upstream-timeout-ms", "1500", "--max-body-bytes", "200000"];

let up: RecordingUpstream;
const gateways: Record<string, GatewayProcess> = {};

beforeAll(async () => {
  up = startRecordingUpstream();
  const [front, fetchPath] = await Promise.all([startGatewayProcess(up.url, ARGS), startGatewayProcess(up.url, [...ARGS, "--no-front-door"])]);
  gateways["front door"] = front;
  gateways["--no-front-door"] = fetchPath;
});

afterAll(async () => {
  await Promise.all(Object.values(gateways).map((g) => g.stop()));
  up.stop();
});

const tempDirOf = (g: GatewayProcess) => join(g.dataDir, "body-temp");
/** The gateway's open descriptors on files in its temp dir (an unlinked one reads "<path> (deleted)"). */
function tempFilesOpen(g: GatewayProcess): number {
  const dir = tempDirOf(g);
  return readdirSync(`/proc/${g.pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${g.pid}/fd/${fd}`).startsWith(dir);
    } catch {
      return false;
    }
  }).length;
}

const upload = (length: number) => `POST /upload HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: ${length}\r\n\r\n`;
const statusOf = (c: RawClient) => Number(/^HTTP\/1\.1 (\d{3})/.exec(c.received())?.[1] ?? 0);

describe.each(["front door", "--no-front-door"])("through the %s", (transport) => {
  const gw = () => gateways[transport] as GatewayProcess;

  test("an upload over the memory bound waits in a file with no name; answered, the file is closed", async () => {
    const [c] = (await openMany(gw().port, 1, () => upload(100_000) + "a".repeat(50_000))) as [RawClient];
    await until("the body's file open", () => tempFilesOpen(gw()), (n) => n === 1);
    expect(readdirSync(tempDirOf(gw()))).toEqual([]);
    expect(up.take()).toEqual([]);
    c.socket.write("b".repeat(50_000));
    await until("the answer", () => c.received(), (t) => t.includes('"bytes":100000'));
    await until("the body's file closed", () => tempFilesOpen(gw()), (n) => n === 0);
    expect(up.take().map((r) => [r.path, r.headers["content-length"], r.bytes])).toEqual([["/upload", "100000", 100_000]]);
    c.socket.destroy();
  });

  test("a body that stops arriving: 408, and the file is closed", async () => {
    const [c] = (await openMany(gw().port, 1, () => upload(100_000) + "a".repeat(50_000))) as [RawClient];
    await until("the body's file open", () => tempFilesOpen(gw()), (n) => n === 1);
    await until("the 408", () => statusOf(c), (s) => s === 408, 5000);
    await until("the body's file closed", () => tempFilesOpen(gw()), (n) => n === 0);
    expect(up.take()).toEqual([]);
    c.socket.destroy();
  });

  test("a chunked body that passes --max-body-bytes: 413, and the file is closed", async () => {
    const head = "POST /upload HTTP/1.1\r\nHost: acme.localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
    const chunk = `${(150_000).toString(16)}\r\n${"a".repeat(150_000)}\r\n`;
    const [c] = (await openMany(gw().port, 1, () => head + chunk)) as [RawClient];
    await until("the body's file open", () => tempFilesOpen(gw()), (n) => n === 1);
    c.socket.write(chunk);
    await until("the 413", () => statusOf(c), (s) => s === 413, 5000);
    await until("the body's file closed", () => tempFilesOpen(gw()), (n) => n === 0);
    expect(up.take()).toEqual([]);
    c.socket.destroy();
  });

  test("the temp dir removed while serving: 503 naming why, and the gateway serves on once it is back", async () => {
    const dir = tempDirOf(gw());
    rmSync(dir, { recursive: true });
    try {
      const [c] = (await openMany(gw().port, 1, () => upload(10_000) + "a".repeat(10_000))) as [RawClient];
      await until("the 503", () => statusOf(c), (s) => s === 503, 5000);
      expect(c.received()).toContain("the gateway could not store the request body (ENOENT)");
      c.socket.destroy();
    } finally {
      mkdirSync(dir);
    }
    const [again] = (await openMany(gw().port, 1, () => upload(10_000) + "a".repeat(10_000))) as [RawClient];
    await until("the answer", () => again.received(), (t) => t.includes('"bytes":10000'));
    expect(tempFilesOpen(gw())).toBe(0);
    up.take();
    again.socket.destroy();
  });

  test("the upstream down: 502 naming it, and the file is closed", async () => {
    const port = await closedPort();
    const down = await startGatewayProcess(`http://127.0.0.1:${port}`, transport === "front door" ? ARGS : [...ARGS, "--no-front-door"]);
    try {
      const [c] = (await openMany(down.port, 1, () => upload(100_000) + "a".repeat(100_000))) as [RawClient];
      await until("the 502", () => statusOf(c), (s) => s === 502, 5000);
      expect(c.received()).toContain(`the upstream at http://127.0.0.1:${port} cannot be reached (ECONNREFUSED)`);
      await until("the body's file closed", () => tempFilesOpen(down), (n) => n === 0);
      c.socket.destroy();
    } finally {
      await down.stop();
    }
  });
});

test("a start removes temporary files of processes that are gone, and leaves a live process's and other files", async () => {
  const dataDir = tempDir("tenantgate-leftovers-");
  const bodies = join(dataDir, "body-temp");
  mkdirSync(bodies, { recursive: true });
  // Above any pid_max Linux allows (2^22): no such process.
  const dead = "tenantgate-body-99999999-0b0e";
  const live = `tenantgate-body-${process.pid}-1f2e`;
  for (const name of [dead, live, "notes.txt"]) writeFileSync(join(bodies, name), "x");
  const g = await startGatewayProcess(up.url, [], dataDir);
  try {
    expect(readdirSync(bodies).sort()).toEqual(["notes.txt", live].sort());
  } finally {
    await g.stop();
  }
});

test("a temp dir that cannot be made stops the start with a message naming the option", async () => {
  const dataDir = tempDir("tenantgate-badtemp-");
  const file = join(dataDir, "a-file");
  writeFileSync(file, "not a directory");
  try {
    const r = await run(["serve", "--dev", "--port", "0", "--data-dir", dataDir, "--body-temp-dir", join(file, "bodies")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`bodyTempDir: request bodies cannot be written to ${join(file, "bodies")} (ENOTDIR); set --body-temp-dir (TENANTGATE_BODY_TEMP_DIR) to a writable directory`);
    expect(existsSync(join(dataDir, "tenants"))).toBe(false);
  } finally {
    removeDir(dataDir);
  }
});
