// The rule at src/storage/file-probe.ts: tenantgate never opens a raw descriptor of a database file it
// may hold through SQLite, because closing it would drop the process's SQLite locks. Seen from another
// process: while this process holds a database, a foreign client's open and close must leave the WAL
// in place (a client that believes it is the last one checkpoints and deletes it).
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { watch as chokidar } from "chokidar";
import { watch } from "node:fs";
import { identityOf, probeDatabase, sameIdentity } from "../../src/storage/file-probe.ts";
import { ROOT } from "../cli/spawn.ts";
import { foreignClientsMissing } from "../shared-files/foreign.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function walDatabase(): { path: string; db: Database } {
  const dir = mkdtempSync(join(tmpdir(), "tenantgate-probe-"));
  dirs.push(dir);
  const path = join(dir, "acme.sqlite");
  const db = new Database(path, { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);");
  return { path, db };
}

function foreignCount(path: string): string {
  const r = Bun.spawnSync(["sqlite3", "-cmd", ".timeout 5000", path, "SELECT count(*) FROM t"], { stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString().trim() || r.stderr.toString();
}

describe.skipIf(foreignClientsMissing)("looking at a held database keeps this process's locks", () => {
  const looks: [string, (path: string) => unknown][] = [
    ["probeDatabase", (p) => probeDatabase(p)],
    ["probeDatabase, deep", (p) => probeDatabase(p, { deep: true })],
    ["identityOf", (p) => identityOf(p)],
    // The relay watches the control plane and its WAL with chokidar, the data directory with fs.watch:
    // a watch opens the path (O_PATH, which carries no locks), never a descriptor that drops them.
    [
      "chokidar on the file and its WAL, started and closed",
      async (p) => {
        const w = chokidar([p, `${p}-wal`], { ignoreInitial: true, persistent: false });
        await new Promise<void>((r) => w.on("ready", () => r()));
        await w.close();
      },
    ],
    ["fs.watch on the file, started and closed", (p) => watch(p).close()],
    [
      "probeDatabase on another thread",
      (p) => {
        const code = `import { probeDatabase } from ${JSON.stringify(join(ROOT, "src/storage/file-probe.ts"))}; postMessage(probeDatabase(${JSON.stringify(p)}).state);`;
        const worker = new Worker(URL.createObjectURL(new Blob([code], { type: "application/typescript" })));
        return new Promise((resolve) => worker.addEventListener("message", (e) => resolve((e as MessageEvent).data), { once: true }));
      },
    ],
  ];

  test.each(looks)("%s: a foreign client's close leaves the WAL, and sees every later commit", async (_name, look) => {
    const { path, db } = walDatabase();
    try {
      db.query("SELECT count(*) FROM t").get();
      await look(path);
      await look(path);
      expect(foreignCount(path)).toBe("1");
      // Had the look dropped the locks, that close would have checkpointed and unlinked the WAL,
      // and this commit would go into the deleted file: invisible to everyone else.
      expect(existsSync(`${path}-wal`)).toBe(true);
      db.exec("INSERT INTO t VALUES (2)");
      expect(foreignCount(path)).toBe("2");
    } finally {
      db.close(false);
    }
  });
});

describe("probeDatabase tells a database from anything else, by SQLite", () => {
  test("missing, empty, not a database, no tables, a database, broken pages, cut short", () => {
    const { path, db } = walDatabase();
    db.exec("CREATE TABLE big (v); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO big SELECT randomblob(200) FROM n;");
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close(false);
    expect(probeDatabase(path).state).toBe("database");
    expect(probeDatabase(`${path}.nope`).state).toBe("missing");

    const dir = join(path, "..");
    const empty = join(dir, "empty.sqlite");
    writeFileSync(empty, "");
    expect(probeDatabase(empty)).toMatchObject({ state: "unreadable", reason: "the file is empty" });
    const garbage = join(dir, "garbage.sqlite");
    writeFileSync(garbage, "not a database at all\n".repeat(300));
    expect(probeDatabase(garbage)).toMatchObject({ state: "unreadable", reason: "file is not a database" });
    const bare = join(dir, "bare.sqlite");
    new Database(bare, { create: true }).close();
    writeFileSync(bare, readFileSync(path).subarray(0, 100));
    expect(probeDatabase(bare).state).toBe("unreadable");

    // Broken data pages under a readable schema: only the full check reads them.
    const good = readFileSync(path);
    const broken = Buffer.from(good);
    for (let i = broken.length - 4096 * 20; i < broken.length; i += 97) broken[i] = 0xa5;
    writeFileSync(path, broken);
    expect(probeDatabase(path).state).toBe("database");
    expect(probeDatabase(path, { deep: true })).toMatchObject({ state: "unreadable" });
    // Cut to half: the header names more pages than the file has, which SQLite reports at once.
    writeFileSync(path, good);
    truncateSync(path, Math.floor(good.length / 2));
    expect(probeDatabase(path)).toMatchObject({ state: "unreadable", reason: "database disk image is malformed" });
  });

  test("a file locked by a writer is busy, not unreadable (no verdict is drawn from a lock)", () => {
    const { path, db } = walDatabase();
    // A connection in exclusive locking mode keeps the file locked after its write: readers wait.
    db.exec("PRAGMA locking_mode = EXCLUSIVE; INSERT INTO t VALUES (2);");
    expect(probeDatabase(path)).toMatchObject({ state: "busy" });
    db.close(false);
    expect(probeDatabase(path).state).toBe("database");
  });

  test("an identity changes with a rewrite, a truncation and a WAL that goes, not with a read", () => {
    const { path, db } = walDatabase();
    const before = identityOf(path);
    db.query("SELECT count(*) FROM t").get();
    expect(sameIdentity(before, identityOf(path))).toBe(true);
    db.exec("INSERT INTO t VALUES (2)");
    expect(sameIdentity(before, identityOf(path))).toBe(false);
    const written = identityOf(path);
    db.close(false);
    // The last connection's close checkpoints and removes the WAL.
    expect(identityOf(path)?.wal).toBeNull();
    expect(sameIdentity(written, identityOf(path))).toBe(false);
  });
});

// Every raw open in src/ is listed here with what it opens: none may name a database file. A new one
// must be added to this list deliberately, after checking it can never reach a tenant file.
const RAW_OPENS: Record<string, string> = {
  "src/config/index.ts: readFileSync(": "the JSON config file",
  "src/storage/descriptors.ts: readFileSync(": "/proc/self/limits",
  "src/tenancy/process-owner.ts: readFileSync(": "/proc/<pid>/stat",
  "src/auth/dev-key.ts: open(": "the dev signing key file",
  "src/auth/dev-key.ts: readFile(": "the dev signing key file",
  "src/api/docs.ts: Bun.file(": "the Swagger UI assets",
  "src/storage/migrate.ts: writeFileSync(": "the embedded migrations, laid out in a private temporary folder",
  "src/storage/write-access.ts: readFileSync(": "/etc/passwd, to name a file's owner",
  "src/proxy/temp-file.ts: open(": "a request body's temporary file, unlinked once open",
  "src/tenancy/file-presence.ts: readFileSync(": "<data-dir>/tenant-verdicts.json, the presence's memory of its verdicts",
  "src/tenancy/file-presence.ts: writeFileSync(": "<data-dir>/tenant-verdicts.json.<pid>.tmp, renamed over that memory",
};
const RAW_OPEN = /\b(openSync|readFileSync|readFile|writeFileSync|appendFileSync|copyFileSync|copyFile|cpSync|createReadStream|createWriteStream|truncateSync|open)\(|Bun\.(file|write)\(/g;

test("no code in src/ opens a raw descriptor except the files listed (none of them a database)", () => {
  const found = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      // Tests beside the code are not the product: they make the junk files this rule is about.
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
        const code = readFileSync(path, "utf8").replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
        for (const m of code.matchAll(RAW_OPEN)) {
          // `db.open(` style methods are not fs: only bare calls and fs namespaces count.
          const before = code.slice(Math.max(0, (m.index ?? 0) - 16), m.index);
          if (before.endsWith(".") && !m[0].startsWith("Bun.")) continue;
          // A method of that name being declared (`static async open(`) opens nothing.
          if (/\b(static|async|function)\s+$/.test(before)) continue;
          found.add(`${relative(ROOT, path)}: ${m[0].replace(/^Bun\.(\w+)\(/, "Bun.$1(")}`);
        }
      }
    }
  };
  walk(join(ROOT, "src"));
  expect([...found].sort()).toEqual(Object.keys(RAW_OPENS).sort());
});
