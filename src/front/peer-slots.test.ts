import { expect, test } from "bun:test";
import { PeerSlots } from "./peer-slots.ts";

test("an address written for a port is read back; a new one for the same port replaces it", () => {
  const slots = new PeerSlots();
  expect(slots.read(40000)).toBeUndefined();
  slots.write(40000, "203.0.113.9");
  slots.write(40001, "2001:db8::1");
  expect(slots.read(40000)).toBe("203.0.113.9");
  expect(slots.read(40001)).toBe("2001:db8::1");
  slots.write(40000, "::ffff:198.51.100.7");
  expect(slots.read(40000)).toBe("::ffff:198.51.100.7");
  slots.write(65535, "192.0.2.1");
  expect(slots.read(65535)).toBe("192.0.2.1");
});

test("an address too long for a slot is not stored half: the port reads as unknown", () => {
  const slots = new PeerSlots();
  slots.write(5000, "192.0.2.1");
  slots.write(5000, "x".repeat(64));
  expect(slots.read(5000)).toBeUndefined();
});

test("what one thread writes, another reads (the memory is shared, not copied)", async () => {
  const slots = new PeerSlots();
  const src = new URL("./peer-slots.ts", import.meta.url).pathname;
  const code = `import { PeerSlots } from ${JSON.stringify(src)};
self.onmessage = (e) => { new PeerSlots(e.data).write(51234, "198.51.100.20"); postMessage("done"); };`;
  const worker = new Worker(URL.createObjectURL(new Blob([code], { type: "application/typescript" })));
  try {
    const done = new Promise((resolve) => (worker.onmessage = resolve));
    worker.postMessage(slots.buffer);
    await done;
    expect(slots.read(51234)).toBe("198.51.100.20");
  } finally {
    worker.terminate();
  }
});
