import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FilePresence } from "./file-presence.ts";

// The presence's verdicts outlive the process through its memory file: a file with the identity it
// was judged on is taken on the memory's word (not opened), one that changed is judged again. The
// proof is a file rewritten behind the presence's back with its size and times put back: only a
// verdict taken from memory can still call it a database.

let dir: string | undefined;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

const ids = (id: string) => /^[a-z]+$/.test(id);
/** A tenant file with a table, its times set to a whole second so that they can be put back exactly. */
function tenantFile(path: string): void {
  const db = new Database(path);
  db.exec("CREATE TABLE t (x)");
  db.close();
  utimesSync(path, 1_700_000_000, 1_700_000_000);
}
/** The same bytes' worth of garbage, written in place, with the times put back: the identity a stat sees is unchanged. */
function garbleKeepingIdentity(path: string): void {
  const size = statSync(path).size;
  writeFileSync(path, Buffer.alloc(size, 7));
  utimesSync(path, 1_700_000_000, 1_700_000_000);
}

test("a verdict is remembered across processes for a file whose identity has not changed, and only for it", async () => {
  dir = mkdtempSync(join(tmpdir(), "presence-"));
  const tenants = join(dir, "tenants");
  mkdirSync(tenants);
  const memory = join(dir, "tenant-verdicts.json");
  for (const id of ["acme", "beta"]) tenantFile(join(tenants, `${id}.sqlite`));

  const first = new FilePresence(tenants, ids, memory);
  expect([first.of("acme"), first.of("beta")]).toEqual(["ready", "ready"]);
  expect(existsSync(memory)).toBe(false); // written at a rescan, not on every look
  await first.rescan();
  expect(Object.keys(JSON.parse(readFileSync(memory, "utf8")).verdicts).sort()).toEqual(["acme", "beta"]);

  garbleKeepingIdentity(join(tenants, "acme.sqlite"));
  garbleKeepingIdentity(join(tenants, "beta.sqlite"));
  utimesSync(join(tenants, "beta.sqlite"), 1_700_000_000, 1_700_000_001); // beta's change shows

  const second = new FilePresence(tenants, ids, memory);
  expect(second.of("acme")).toBe("ready"); // not opened: the memory's word for an unchanged identity
  expect(second.of("beta")).toBe("unreadable");
  expect(second.unreadableReason("beta")).toMatch(/not a database/);

  // Without the memory, the same look opens the file and finds the garbage.
  expect(new FilePresence(tenants, ids).of("acme")).toBe("unreadable");
});

test("a memory file that is not one is ignored, and a missing tenant's verdict is dropped from it", async () => {
  dir = mkdtempSync(join(tmpdir(), "presence-"));
  const tenants = join(dir, "tenants");
  mkdirSync(tenants);
  const memory = join(dir, "tenant-verdicts.json");
  tenantFile(join(tenants, "acme.sqlite"));
  tenantFile(join(tenants, "beta.sqlite"));
  for (const junk of ["", "{", "[]", '{"version":2,"verdicts":{}}', '{"version":1,"verdicts":{"acme":{"ok":"yes"}}}']) {
    writeFileSync(memory, junk);
    expect(new FilePresence(tenants, ids, memory).of("acme")).toBe("ready");
  }
  const p = new FilePresence(tenants, ids, memory);
  p.of("acme");
  p.of("beta");
  rmSync(join(tenants, "beta.sqlite"));
  await p.rescan();
  expect(Object.keys(JSON.parse(readFileSync(memory, "utf8")).verdicts)).toEqual(["acme"]);
});
