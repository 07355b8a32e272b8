// The command line, as real processes: `bun src/main.ts <command>` over temp data dirs.
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigSchema, loadConfig } from "../../src/config/index.ts";
import { cli, controlPlanePath, decodeJwtPayload, readDb, removeDir, run, serve, tempDir } from "./spawn.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) removeDir(d);
});
function newDir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

const tenantFile = (dir: string, id: string) => join(dir, "tenants", `${id}.sqlite`);
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envOf = (key: string) => `TENANTGATE_${kebab(key).replace(/-/g, "_").toUpperCase()}`;

function orgOf(dir: string, tenant: string): { id: string } | null {
  return readDb(controlPlanePath(dir), (db) => db.query("SELECT id FROM organizations WHERE name = ? AND tenant_id = 'control_plane'").get(tenant)) as {
    id: string;
  } | null;
}

function tenantRowsIn(path: string): string[] {
  return readDb(path, (db) => (db.query("SELECT id FROM tenants ORDER BY id").all() as { id: string }[]).map((r) => r.id));
}

describe("serve --help", () => {
  test("lists every option with its environment name and its default", async () => {
    const r = await run(["serve", "--help"]);
    expect(r.code).toBe(0);
    // The defaults as loadConfig really applies them (with the few that are computed spelled out).
    const { config } = loadConfig({ argv: ["--dev"], env: {} });
    const shown: Record<string, string> = { dev: "false", dataDir: "./data", jwksUrl: "derived", bodyTempDir: "derived", issuer: "none", tenantIssuer: "none", trustedProxies: "none", databaseUrl: "none", databaseAdminUrl: "none", databaseAuthToken: "none" };
    const keys = Object.keys(ConfigSchema.properties);
    expect(keys.length).toBeGreaterThan(20);
    for (const key of keys) {
      const block = new RegExp(`^  --${kebab(key)}\\b[^\\n]*\\n[^\\n]*\\n      env ${envOf(key)}; default ([^\\n]*)$`, "m").exec(r.stdout);
      expect(block, `--help entry for ${key}`).not.toBeNull();
      const value = (config as unknown as Record<string, unknown>)[key];
      const want = shown[key] ?? (Array.isArray(value) ? value.join(",") || "none" : String(value));
      expect(`${key}: ${block?.[1]}`).toBe(`${key}: ${want}`);
    }
    expect(r.stdout).toContain("env TENANTGATE_PORT; default 8080");
    expect(r.stdout).toContain("--config <file>");
  });
});

describe("bad configuration is refused, naming the key and where the value came from", () => {
  const cases: { name: string; args: string[]; env?: Record<string, string>; file?: unknown; expect: (string | RegExp)[] }[] = [
    { name: "--port abc", args: ["serve", "--dev", "--port", "abc"], expect: ["port", "--port", '"abc"'] },
    { name: "TENANTGATE_PORT=99999", args: ["serve", "--dev"], env: { TENANTGATE_PORT: "99999" }, expect: ["port", "TENANTGATE_PORT", "99999"] },
    { name: "unknown key in a config file", args: ["serve", "--dev"], file: { port: 8081, bogusKey: true }, expect: ['unknown key "bogusKey"', "config file"] },
    { name: "wrong type in a config file", args: ["serve", "--dev"], file: { rescanSeconds: 0 }, expect: ["rescanSeconds", "config file"] },
    { name: "unknown flag", args: ["serve", "--dev", "--prot", "80"], expect: ["unknown option --prot"] },
    { name: "--dev on a public host", args: ["serve", "--dev", "--host", "0.0.0.0"], expect: ["dev", "0.0.0.0"] },
    { name: "no issuer without --dev", args: ["serve"], expect: ["issuer", "--issuer"] },
    { name: "bad boolean in the environment", args: ["serve", "--dev"], env: { TENANTGATE_ADOPT_FILES: "maybe" }, expect: ["adoptFiles", "TENANTGATE_ADOPT_FILES"] },
  ];
  for (const c of cases) {
    test.concurrent(c.name, async () => {
      const dir = newDir();
      const extra: string[] = [];
      if (c.file !== undefined) {
        const file = join(dir, "config.json");
        writeFileSync(file, JSON.stringify(c.file));
        extra.push("--config", file);
      }
      // Port 0 where the case is not about the port, so a wrongly accepted config cannot clash on 8080.
      if (!c.args.includes("--port") && !c.env?.TENANTGATE_PORT) extra.push("--port", "0");
      const r = await run([...c.args, "--data-dir", dir, ...extra], c.env);
      expect(r.code).toBe(2);
      expect(r.stderr.startsWith("tenantgate: ")).toBe(true);
      for (const want of c.expect) expect(r.stderr).toContain(want as string);
      expect(r.stderr).not.toContain("    at ");
      // Refused before anything was written.
      expect(existsSync(join(dir, "tenants"))).toBe(false);
    });
  }
});

describe("tenants, token, doctor, backup and restore on one data dir", () => {
  const dir = newDir();

  test("tenants create / list / delete --purge", async () => {
    const a = await cli(dir, ["tenants", "create", "acme"]);
    expect(a.stderr).toBe("");
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^created acme \(organization org_[A-Za-z0-9]{17}, operation op_/);
    expect((await cli(dir, ["tenants", "create", "beta", "--friendly-name", "Beta Corp"])).code).toBe(0);
    expect((await cli(dir, ["tenants", "create", "gone"])).code).toBe(0);

    const list = await cli(dir, ["tenants", "list"]);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split("\n");
    expect(lines).toContain(`acme\tready\t${orgOf(dir, "acme")?.id}\tacme`);
    expect(lines).toContain(`beta\tready\t${orgOf(dir, "beta")?.id}\tBeta Corp`);
    expect(lines.at(-1)).toBe("3 tenant(s)");
    expect(list.stdout).not.toContain("control_plane");

    const del = await cli(dir, ["tenants", "delete", "gone", "--purge"]);
    expect(del.code).toBe(0);
    expect(del.stdout).toContain("deleted gone");
    expect(del.stdout).toContain("unregistered, trashed, purged");
    expect(existsSync(tenantFile(dir, "gone"))).toBe(false);
    expect(readdirSync(join(dir, "tenants", ".trash")).filter((n) => n.startsWith("gone."))).toEqual([]);
    expect(orgOf(dir, "gone")).toBeNull();
    // A switch given "false" is off: the file goes to the trash, not away.
    expect((await cli(dir, ["tenants", "create", "keep"])).code).toBe(0);
    const kept = await cli(dir, ["tenants", "delete", "keep", "--purge=false"]);
    expect(kept.code).toBe(0);
    expect(kept.stdout).not.toContain("purged");
    expect(readdirSync(join(dir, "tenants", ".trash")).filter((n) => n.startsWith("keep.") && n.endsWith(".sqlite"))).toHaveLength(1);
    expect((await cli(dir, ["tenants", "list"])).stdout.trim().split("\n").at(-1)).toBe("2 tenant(s)");

    const refused = await Promise.all([
      cli(dir, ["tenants", "delete", "gone"]),
      cli(dir, ["tenants", "create", "Bad_Name"]),
      cli(dir, ["tenants", "create", "www"]),
      cli(dir, ["tenants", "create", "acme"]),
      cli(dir, ["tenants", "delete", "control_plane"]),
      cli(dir, ["tenants", "frobnicate"]),
    ]);
    const messages = ["does not exist", "not a DNS label", "reserved", "already exists", "never be deleted", 'unknown tenants subcommand "frobnicate"'];
    refused.forEach((r, i) => {
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(messages[i] as string);
    });
  });

  test("doctor does not create a data dir it was pointed at by mistake", async () => {
    const wrong = join(newDir(), "typo");
    const r = await cli(wrong, ["doctor"]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain("no control plane at");
    expect(existsSync(wrong)).toBe(false);
  });

  test("the offline commands need no issuer", async () => {
    const r = await run(["tenants", "list", "--data-dir", dir]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("2 tenant(s)");
  });

  test("token, token --org, token --tenant; --org of an unknown tenant fails clearly", async () => {
    // All at once on a fresh data dir: the processes must agree on one dev key.
    const [plain, org, tenant, custom, nope, noDev] = await Promise.all([
      cli(dir, ["token"]),
      cli(dir, ["token", "--org", "acme"]),
      cli(dir, ["token", "--tenant", "acme"]),
      cli(dir, ["token", "--sub", "auth0|42", "--permissions", "read:tenants, update:tenants"]),
      cli(dir, ["token", "--org", "nope"]),
      run(["token", "--data-dir", dir]),
    ]);
    for (const r of [plain, org, tenant, custom]) expect(r.code).toBe(0);

    const p = decodeJwtPayload(plain.stdout);
    expect(p.tenant_id).toBe("control_plane");
    expect(p.org_id).toBeUndefined();
    expect(p.aud).toBe("urn:authhero:management");
    expect(p.iss).toBe("urn:tenantgate:dev");
    expect(p.permissions).toEqual(["create:tenants", "read:tenants", "update:tenants", "delete:tenants"]);
    expect(Number(p.exp)).toBeGreaterThan(Date.now() / 1000);

    const o = decodeJwtPayload(org.stdout);
    expect(o.org_id).toBe(orgOf(dir, "acme")?.id as string);
    expect(o.org_name).toBe("acme");

    const t = decodeJwtPayload(tenant.stdout);
    expect(t.tenant_id).toBe("acme");
    expect(t.org_id).toBeUndefined();

    const c = decodeJwtPayload(custom.stdout);
    expect(c.sub).toBe("auth0|42");
    expect(c.permissions).toEqual(["read:tenants", "update:tenants"]);

    expect(nope.code).not.toBe(0);
    expect(nope.stdout).toBe("");
    expect(nope.stderr).toContain('"nope"');
    expect(nope.stderr).toContain("organization");
    // Printing a token needs no --dev: only a gateway in --dev mode trusts it.
    expect(noDev.code).toBe(0);
    expect(decodeJwtPayload(noDev.stdout).tenant_id).toBe("control_plane");

    // The tokens work against a gateway in --dev mode over the same data dir.
    const s = await serve(dir);
    try {
      const get = (path: string, token: string) => fetch(`${s.url}${path}`, { headers: { host: "localhost", authorization: `Bearer ${token.trim()}` } });
      expect((await get("/api/v2/tenants", plain.stdout)).status).toBe(200);
      expect((await get("/api/v2/tenants/acme", org.stdout)).status).toBe(200);
      expect((await get("/api/v2/tenants/beta", org.stdout)).status).toBe(403);
    } finally {
      await s.stop();
    }
    // SIGTERM is a clean stop.
    expect(s.proc.exitCode).toBe(0);
  });

  test("doctor: exit 0 when healthy, non-zero listing an orphan, a missing file, a bad name and a corrupt file", async () => {
    const healthy = await cli(dir, ["doctor", "--deep"]);
    expect(healthy.stdout).toContain("no problems found");
    expect(healthy.code).toBe(0);

    copyFileSync(tenantFile(dir, "acme"), tenantFile(dir, "stray"));
    copyFileSync(tenantFile(dir, "acme"), join(dir, "tenants", "Bad_Name.sqlite"));
    const aside = join(dir, "beta.aside");
    copyFileSync(tenantFile(dir, "beta"), aside);
    rmSync(tenantFile(dir, "beta"));
    try {
      const sick = await cli(dir, ["doctor"]);
      expect(sick.code).not.toBe(0);
      expect(sick.stdout).toContain("file stray.sqlite is not registered");
      expect(sick.stdout).toContain("tenant beta: file is missing");
      expect(sick.stdout).toContain("file Bad_Name.sqlite has a name that is not a valid tenant id");
      expect(sick.stdout).toContain("3 problem(s) found");
      // doctor only reports: it neither adopts nor deletes.
      expect(existsSync(tenantFile(dir, "stray"))).toBe(true);
      expect(orgOf(dir, "stray")).toBeNull();
    } finally {
      rmSync(tenantFile(dir, "stray"));
      rmSync(join(dir, "tenants", "Bad_Name.sqlite"));
      copyFileSync(aside, tenantFile(dir, "beta"));
    }

    // --deep reads every page: a file with a readable schema and broken data pages is found.
    const corrupt = tenantFile(dir, "beta");
    const good = await Bun.file(aside).bytes();
    const bad = new Uint8Array(good);
    for (let i = bad.length - 4096 * 6; i < bad.length; i += 97) bad[i] = 0xa5;
    writeFileSync(corrupt, bad);
    try {
      const shallow = await cli(dir, ["doctor"]);
      expect(shallow.code).toBe(0);
      const deep = await cli(dir, ["doctor", "--deep"]);
      expect(deep.code).not.toBe(0);
      expect(deep.stdout).toMatch(/tenant beta: integrity_check says /);
      // Broken pages under the schema itself make the file unreadable for any use: even the
      // shallow check (which reads the schema through SQLite) finds that.
      for (let i = 4096 * 2; i < bad.length; i += 97) bad[i] = 0xa5;
      writeFileSync(corrupt, bad);
      const schema = await cli(dir, ["doctor"]);
      expect(schema.code).not.toBe(0);
      expect(schema.stdout).toMatch(/tenant beta: file is unreadable \(malformed database schema/);
    } finally {
      writeFileSync(corrupt, good);
    }
    expect((await cli(dir, ["doctor", "--deep"])).code).toBe(0);
  });

  test("backup makes a checked snapshot; restore brings lost rows, a lost file and a deleted tenant back", async () => {
    const out = join(dir, "backups", "acme.sqlite");
    const b = await cli(dir, ["backup", "acme", out]);
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    expect(b.stdout).toContain("integrity ok");
    readDb(out, (db) => {
      expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
      expect(db.query("SELECT id FROM tenants").all()).toEqual([{ id: "acme" }]);
    });
    expect(existsSync(`${out}.partial`)).toBe(false);
    const again = await cli(dir, ["backup", "acme", out]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("already exists");
    const missing = await cli(dir, ["backup", "nope", join(dir, "nope.sqlite")]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('"nope"');
    expect(existsSync(join(dir, "nope.sqlite"))).toBe(false);

    const trash = () => readdirSync(join(dir, "tenants", ".trash")).filter((n) => n.startsWith("acme.") && n.endsWith(".sqlite"));

    // 1. Rows lost inside the file.
    const live = new Database(tenantFile(dir, "acme"));
    live.exec("DELETE FROM tenants");
    live.close(false);
    expect(tenantRowsIn(tenantFile(dir, "acme"))).toEqual([]);
    const r1 = await cli(dir, ["restore", "acme", out]);
    expect(r1.stderr).toBe("");
    expect(r1.code).toBe(0);
    expect(tenantRowsIn(tenantFile(dir, "acme"))).toEqual(["acme"]);
    expect(trash()).toHaveLength(1);
    expect(trash()[0]).toMatch(/^acme\.before-restore-\d+\.sqlite$/);
    expect(tenantRowsIn(join(dir, "tenants", ".trash", trash()[0] as string))).toEqual([]);
    readDb(tenantFile(dir, "acme"), (db) => expect(db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" }));
    expect(readdirSync(join(dir, "tenants", ".tmp"))).toEqual([]);

    // 2. The file itself lost.
    rmSync(tenantFile(dir, "acme"));
    const r2 = await cli(dir, ["restore", "acme", out]);
    expect(r2.code).toBe(0);
    expect(tenantRowsIn(tenantFile(dir, "acme"))).toEqual(["acme"]);
    expect(trash()).toHaveLength(1);
    expect((await cli(dir, ["doctor"])).code).toBe(0);

    // 3. The tenant deleted altogether: restore puts the file back and registers it again.
    expect((await cli(dir, ["tenants", "delete", "acme"])).code).toBe(0);
    expect(orgOf(dir, "acme")).toBeNull();
    const r3 = await cli(dir, ["restore", "acme", out]);
    expect(r3.code).toBe(0);
    expect(orgOf(dir, "acme")?.id).toMatch(/^org_/);
    expect((await cli(dir, ["tenants", "list"])).stdout).toMatch(/^acme\tready\torg_/m);
    expect((await cli(dir, ["doctor"])).code).toBe(0);

    // A backup that is not a database is refused and the current file stays.
    const junk = join(dir, "junk.sqlite");
    writeFileSync(junk, "nope".repeat(1000));
    const r4 = await cli(dir, ["restore", "acme", junk]);
    expect(r4.code).not.toBe(0);
    expect(r4.stderr).toContain("not a SQLite database");
    expect(tenantRowsIn(tenantFile(dir, "acme"))).toEqual(["acme"]);
  });
});
