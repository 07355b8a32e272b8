import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { until } from "../../test/support/until.ts";
import { BodyBudget } from "./body-budget.ts";
import { BodyBuffer, type BodyBuffering } from "./body-buffer.ts";

// One request body held until whole: memory within the bounds, else a temporary file that no name
// on disk points to and that is closed when the body is let go.

const dir = mkdtempSync(join(tmpdir(), "tenantgate-bodies-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const buffering = (memoryBytes: number, total = 1 << 20): BodyBuffering => ({ memoryBytes, budget: new BodyBudget(total), tempDir: dir });
/** This process's open descriptors on files in the temp dir (unlinked ones show as "<path> (deleted)"). */
const openTempFiles = () =>
  readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
    } catch {
      return false;
    }
  }).length;

const bytes = (n: number, seed = 7) => Uint8Array.from({ length: n }, (_, i) => (i * seed + (i >> 8)) & 0xff);
async function written(body: BodyBuffer, data: Uint8Array, piece: number): Promise<void> {
  for (let at = 0; at < data.length; at += piece) if (!body.write(data.subarray(at, at + piece))) await body.whenWritable();
  await body.stored();
}
async function readBack(body: BodyBuffer): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < body.size; ) {
    const part = await body.read(at);
    parts.push(part);
    at += part.length;
  }
  return Buffer.concat(parts);
}
const streamed = async (body: BodyBuffer) => new Uint8Array(await new Response(body.stream()).arrayBuffer());

describe("a body of declared length", () => {
  test("within the bound stays in memory, its length taken from the budget until it is let go", async () => {
    const o = buffering(1000);
    const body = new BodyBuffer(o, 600);
    await written(body, bytes(600), 100);
    expect([body.inFile, o.budget.held]).toEqual([false, 600]);
    expect(body.bytes).toEqual(bytes(600));
    expect(await streamed(body)).toEqual(bytes(600));
    body.dispose();
    expect(o.budget.held).toBe(0);
  });

  test("over the bound goes to a file that has no name on disk; read back, streamed and whole, it is the same bytes", async () => {
    const o = buffering(1000);
    const data = bytes(300_000, 13);
    const body = new BodyBuffer(o, data.length);
    await written(body, data, 7_000);
    expect([body.inFile, o.budget.held, body.size]).toEqual([true, 0, data.length]);
    expect(readdirSync(dir)).toEqual([]);
    expect(openTempFiles()).toBe(1);
    expect(await readBack(body)).toEqual(data);
    expect(await streamed(body)).toEqual(data);
    expect(await body.whole()).toEqual(data);
    body.dispose();
    await until("the file closed", openTempFiles, (n) => n === 0);
  });

  test("within the bound but over what is left of the budget goes to a file", async () => {
    const o = buffering(1000, 1500);
    const first = new BodyBuffer(o, 1000);
    const second = new BodyBuffer(o, 1000);
    expect([first.inFile, second.inFile, o.budget.held]).toEqual([false, true, 1000]);
    await written(second, bytes(1000), 1000);
    expect(await second.whole()).toEqual(bytes(1000));
    first.dispose();
    second.dispose();
    expect(o.budget.held).toBe(0);
    await until("the file closed", openTempFiles, (n) => n === 0);
  });
});

test("a body of unknown length starts in memory and moves to a file past the bound, keeping every byte in order", async () => {
  const o = buffering(10_000);
  const data = bytes(50_000, 3);
  const body = new BodyBuffer(o);
  expect(body.write(data.subarray(0, 4_000))).toBe(true);
  expect([body.inFile, o.budget.held]).toEqual([false, 4_000]);
  await written(body, data.subarray(4_000), 3_000);
  expect([body.inFile, o.budget.held]).toEqual([true, 0]);
  expect(await readBack(body)).toEqual(data);
  body.dispose();
  await until("the file closed", openTempFiles, (n) => n === 0);
});

test("a body let go while its file is still being written closes the file; nothing is read from it after", async () => {
  const body = new BodyBuffer(buffering(0), 2_000_000);
  for (let i = 0; i < 20; i++) body.write(bytes(100_000, i + 1));
  body.dispose();
  await until("the file closed", openTempFiles, (n) => n === 0);
  await expect(body.read(0)).rejects.toThrow("let go");
});

test("a temp dir gone from under the gateway: storing the body fails with the reason, and nothing is left open", async () => {
  const body = new BodyBuffer({ memoryBytes: 0, budget: new BodyBudget(0), tempDir: join(dir, "gone") }, 10);
  body.write(bytes(10));
  await expect(body.stored()).rejects.toMatchObject({ code: "ENOENT" });
  expect(body.error).toMatchObject({ code: "ENOENT" });
  body.dispose();
  expect(openTempFiles()).toBe(0);
});

describe("the budget", () => {
  test("is shared through its memory: a reservation sees what another thread's slot holds, and a reset slot gives it back", () => {
    const main = new BodyBudget(1000);
    const front = new BodyBudget(1000, main.memory, "front");
    expect(front.reserve(700)).toBe(true);
    expect(main.reserve(400)).toBe(false);
    expect(main.reserve(300)).toBe(true);
    expect([main.held, front.held]).toEqual([1000, 1000]);
    main.resetSlot("front");
    expect(main.held).toBe(300);
  });
});
