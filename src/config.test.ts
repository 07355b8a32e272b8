import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, configHelp, loadConfig } from "./config/index.ts";

const load = (argv: string[], env: Record<string, string> = {}) => loadConfig({ argv, env }).config;
const DEV = ["--dev"];

test("defaults match the documented ones", () => {
  const c = load(DEV);
  expect(c.port).toBe(8080);
  expect(c.host).toBe("127.0.0.1");
  expect(c.dataDir.endsWith("/data")).toBe(true);
  expect(c.baseDomain).toBe("localhost");
  expect(c.controlPlane).toBe("control_plane");
  expect(c.reserved).toEqual(["www", "api", "admin", "app", "auth", "static", "control-plane"]);
  expect(c.upstream).toBe("http://127.0.0.1:3000");
  expect(c.jwksUrl).toBe("http://127.0.0.1:3000/.well-known/jwks.json");
  expect(c.audience).toBe("urn:authhero:management");
  expect(c.trustOrgName).toBe(false);
  expect(c.trustedProxies).toEqual([]);
  expect(c.adoptFiles).toBe(true);
});

test("flags beat environment, environment beats the config file", () => {
  const dir = mkdtempSync(join(tmpdir(), "cfg-"));
  const file = join(dir, "tg.json");
  writeFileSync(file, JSON.stringify({ port: 7000, baseDomain: "file.example.com", upstream: "http://10.0.0.1:3000" }));
  const c = load([...DEV, "--config", file, "--port", "9000"], { TENANTGATE_PORT: "8000", TENANTGATE_BASE_DOMAIN: "env.example.com" });
  expect(c.port).toBe(9000);
  expect(c.baseDomain).toBe("env.example.com");
  expect(c.upstream).toBe("http://10.0.0.1:3000");
});

test("booleans and lists parse from flags and environment", () => {
  const c = load([...DEV, "--no-adopt-files", "--trust-org-name", "--trusted-proxies", "10.0.0.0/8, ::1"], { TENANTGATE_SYNC_ROLES: "false" });
  expect(c.adoptFiles).toBe(false);
  expect(c.trustOrgName).toBe(true);
  expect(c.trustedProxies).toEqual(["10.0.0.0/8", "::1"]);
  expect(c.syncRoles).toBe(false);
});

test.each([
  [["--port", "abc"], {}, "port (--port)"],
  [[], { TENANTGATE_PORT: "99999" }, "port (from TENANTGATE_PORT)"],
  [["--base-domain", "Bad Domain"], {}, "baseDomain (from --base-domain)"],
  [["--reserved", "ok,Not_OK"], {}, "reserved (from --reserved)"],
  [["--upstream", "ftp://x"], {}, "upstream (from --upstream)"],
  [["--trusted-proxies", "nope"], {}, "trustedProxies"],
  [["--log-level", "loud"], {}, "logLevel"],
  [["--unknown-thing", "1"], {}, "unknown option --unknown-thing"],
  [["--adopt-files=maybe"], {}, "adoptFiles (--adopt-files)"],
  [["--host", "0.0.0.0"], {}, "refusing to run in dev mode on non-loopback host"],
  [["--reserved", "control_plane"], {}, "reserved (from --reserved)"],
  [["--body-buffer-bytes", "-1"], {}, "bodyBufferBytes (from --body-buffer-bytes)"],
  [["--body-buffer-bytes", "64k"], {}, "bodyBufferBytes (--body-buffer-bytes): expected a whole number"],
  [["--universal-login-version", "3"], {}, `universalLoginVersion (from --universal-login-version): expected one of "1", "2"; got "3"`],
  [[], { TENANTGATE_BODY_BUFFER_TOTAL_BYTES: String(2 * 1024 ** 3) }, "bodyBufferTotalBytes (from TENANTGATE_BODY_BUFFER_TOTAL_BYTES)"],
])("%p %p is refused naming the key", (argv, env, fragment) => {
  expect(() => load([...DEV, ...argv], env as Record<string, string>)).toThrow(ConfigError);
  expect(() => load([...DEV, ...argv], env as Record<string, string>)).toThrow(fragment);
});

test("request bodies: 64 KiB each and 64 MiB in all in memory, files in <data-dir>/body-temp unless told otherwise", () => {
  const c = load([...DEV, "--data-dir", "/srv/tg"]);
  expect(c.bodies).toEqual({ bodyBufferBytes: 65536, bodyBufferTotalBytes: 67108864, bodyTempDir: "/srv/tg/body-temp" });
  expect(load([...DEV, "--body-temp-dir", "/var/tmp/tg", "--body-buffer-bytes", "0"]).bodies).toMatchObject({ bodyBufferBytes: 0, bodyTempDir: "/var/tmp/tg" });
  const dir = mkdtempSync(join(tmpdir(), "cfg-"));
  const file = join(dir, "tg.json");
  writeFileSync(file, JSON.stringify({ bodyBufferTotalBytes: 1048576, bodyTempDir: "rel/bodies" }));
  expect(load([...DEV, "--config", file], { TENANTGATE_BODY_BUFFER_BYTES: "16384" }).bodies).toMatchObject({ bodyBufferBytes: 16384, bodyBufferTotalBytes: 1048576, bodyTempDir: join(process.cwd(), "rel/bodies") });
});

test("without --dev an issuer is required", () => {
  expect(() => load([])).toThrow("issuer: required");
  expect(load(["--issuer", "https://auth.example.com/"]).issuer).toEqual(["https://auth.example.com/"]);
});

test("a config file with an unknown key or bad JSON is refused naming the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "cfg-"));
  const bad = join(dir, "bad.json");
  writeFileSync(bad, JSON.stringify({ prot: 1 }));
  expect(() => load([...DEV, "--config", bad])).toThrow(`config file ${bad}: unknown key "prot"`);
  writeFileSync(bad, "{nope");
  expect(() => load([...DEV, "--config", bad])).toThrow(`config file ${bad}`);
});

test("help lists every option with its environment name and default", () => {
  const help = configHelp();
  for (const fragment of [
    "--port <n>",
    "TENANTGATE_PORT; default 8080",
    "--base-domain",
    "default localhost",
    "--trusted-proxies",
    "default none",
    "--dev",
    "--adopt-files",
    "--config <file>",
    "--body-buffer-bytes <n>",
    "TENANTGATE_BODY_BUFFER_BYTES; default 65536",
    "TENANTGATE_BODY_BUFFER_TOTAL_BYTES; default 67108864",
    "--body-temp-dir <value>",
    "TENANTGATE_BODY_TEMP_DIR; default derived",
  ]) {
    expect(help).toContain(fragment);
  }
});

test("positional arguments are returned for the command", () => {
  expect(loadConfig({ argv: ["--dev", "acme", "out.sqlite"], env: {} }).rest).toEqual(["acme", "out.sqlite"]);
});

test("an option's value is never the next option: --issuer --dev is an --issuer without its value", () => {
  expect(() => load(["--issuer", "--dev"])).toThrow("option --issuer needs a value");
  expect(() => load([...DEV, "--port", "--", "1"])).toThrow("option --port needs a value");
  expect(load([...DEV, "--audience=--not-a-flag"]).audience).toBe("--not-a-flag");
});

test("a repeated option counts once, the last time; a list is comma-separated", () => {
  expect(load(["--issuer", "https://a/", "--issuer=https://b/, https://c/"]).issuer).toEqual(["https://b/", "https://c/"]);
});

test("booleans from the environment and from --name=value read the same words (config/boolean.ts)", () => {
  expect(load(DEV, { TENANTGATE_TRUST_ORG_NAME: " Yes " }).trustOrgName).toBe(true);
  expect(load(DEV, { TENANTGATE_TRUST_ORG_NAME: "" }).trustOrgName).toBe(true);
  expect(load(DEV, { TENANTGATE_ADOPT_FILES: "OFF" }).adoptFiles).toBe(false);
  expect(load([...DEV, "--adopt-files=No", "--trust-org-name=1"])).toMatchObject({ adoptFiles: false, trustOrgName: true });
  expect(load([...DEV, "--trust-org-name="]).trustOrgName).toBe(true);
  expect(() => load(DEV, { TENANTGATE_TRUST_ORG_NAME: "y" })).toThrow('trustOrgName (TENANTGATE_TRUST_ORG_NAME): expected true or false, got "y"');
});

test("a switch takes no next argument; --no-<option> is only for switches", () => {
  expect(loadConfig({ argv: [...DEV, "--trust-org-name", "acme"], env: {} })).toMatchObject({ config: { trustOrgName: true }, rest: ["acme"] });
  expect(() => load([...DEV, "--no-port"])).toThrow("unknown option --no-port");
});

test("single-dash arguments and everything after -- are positional", () => {
  expect(loadConfig({ argv: [...DEV, "-x", "acme", "--", "--port", "1"], env: {} }).rest).toEqual(["-x", "acme", "--port", "1"]);
});

test("the control plane's lock wait answers to its old name too (--busy-timeout-ms), in every source", () => {
  expect(load(DEV).controlPlaneLockWaitMs).toBe(5000);
  expect(load([...DEV, "--busy-timeout-ms", "700"]).controlPlaneLockWaitMs).toBe(700);
  expect(load([...DEV, "--busy-timeout-ms=700", "--control-plane-lock-wait-ms", "800"]).controlPlaneLockWaitMs).toBe(800);
  expect(load(DEV, { TENANTGATE_BUSY_TIMEOUT_MS: "600" }).controlPlaneLockWaitMs).toBe(600);
  expect(load(DEV, { TENANTGATE_BUSY_TIMEOUT_MS: "600", TENANTGATE_CONTROL_PLANE_LOCK_WAIT_MS: "900" }).controlPlaneLockWaitMs).toBe(900);
  const dir = mkdtempSync(join(tmpdir(), "cfg-"));
  for (const key of ["busyTimeoutMs", "busy-timeout-ms", "controlPlaneLockWaitMs"]) {
    writeFileSync(join(dir, "tg.json"), JSON.stringify({ [key]: 400 }));
    expect(load([...DEV, "--config", join(dir, "tg.json")]).controlPlaneLockWaitMs).toBe(400);
  }
  expect(() => load([...DEV, "--busy-timeout-ms", "soon"])).toThrow('controlPlaneLockWaitMs (--busy-timeout-ms): expected a whole number, got "soon"');
  expect(configHelp()).toContain("--busy-timeout-ms");
});

test("a config for a command that verifies no token needs no issuer, and access control stays as given", () => {
  const { config } = loadConfig({ argv: [], env: {} }, { verifiesTokens: false });
  expect(config.issuer).toEqual([]);
  expect(config.accessControl).toBe(true);
  expect(() => loadConfig({ argv: [], env: {} }, { verifiesTokens: true })).toThrow("issuer: required when access control is on");
  // The other checks hold for every command.
  expect(() => loadConfig({ argv: ["--port", "abc"], env: {} }, { verifiesTokens: false })).toThrow("port (--port)");
});
