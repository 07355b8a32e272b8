import { Value } from "@sinclair/typebox/value";
import { t, type TSchema } from "elysia";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { readArgs, type ArgKind, type GivenOption } from "./argv.ts";
import { readBoolean } from "./boolean.ts";
import { withGroups, type ConfigGroups } from "./groups.ts";
import type { Settings } from "./settings.ts";

export type { Settings } from "./settings.ts";
import { SYNCED_ENTITIES } from "../synced-entities.ts";

type Kind = "string" | "int" | "bool" | "list";

interface Option {
  key: keyof Settings;
  flag: string;
  kind: Kind;
  help: string;
  schema: TSchema;
  default: unknown;
  /** The key it had before it was renamed: its flag, environment name and config-file key still work. */
  formerly?: string;
}

const LABEL = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$";
// The in-memory body bounds are counted in shared 32-bit slots (proxy/body-budget.ts).
const GiB = 1024 ** 3;

// One table drives the flags, the environment names, the config-file keys, `--help` and validation.
const OPTIONS: Option[] = [
  opt("port", "int", 8080, "TCP port to listen on", t.Integer({ minimum: 0, maximum: 65535 })),
  opt("host", "string", "127.0.0.1", "address to listen on", t.String({ minLength: 1 })),
  opt("dataDir", "string", "./data", "data directory; tenant files live in <data-dir>/tenants", t.String({ minLength: 1 })),
  opt("databaseUrl", "string", "", "a libSQL server (sqld, Turso) holding every tenant as a namespace named by its id, the control plane as the one named by its id (http(s)://host:port); unset: local files under --data-dir", t.String({ pattern: "^(https?://[^\\s/]+/?)?$" })),
  opt("databaseAdminUrl", "string", "", "sqld's admin API, where namespaces are made and removed (http://host:port of --admin-listen-addr); required with --database-url", t.String({ pattern: "^(https?://[^\\s/]+/?)?$" })),
  opt("databaseAuthToken", "string", "", "the token a libSQL server requires (Turso, sqld with JWT auth)", t.String()),
  opt("baseDomain", "string", "localhost", "tenants are <id>.<base-domain>; the apex is the control plane", t.String({ pattern: "^[a-z0-9-]+(\\.[a-z0-9-]+)*$" })),
  opt("controlPlane", "string", "control_plane", "the control plane's tenant id", t.String({ pattern: "^[a-z0-9_-]{1,63}$" })),
  opt("reserved", "list", ["www", "api", "admin", "app", "auth", "static", "control-plane"], "subdomain labels that mean the control plane and can never be tenant ids", t.Array(t.String({ pattern: LABEL }))),
  opt("upstream", "string", "http://127.0.0.1:3000", "AuthHero's base URL", t.String({ pattern: "^https?://[^\\s/]+(/.*)?$" })),
  opt("jwksUrl", "string", "", "JWKS URL (default <upstream>/.well-known/jwks.json)", t.String({ pattern: "^(https?://\\S+)?$" })),
  opt("issuer", "list", [], "accepted token issuers, comma-separated (required unless --dev)", t.Array(t.String({ minLength: 1 }))),
  opt("tenantIssuer", "string", "", "each tenant's own token issuer, {tenant} standing for its id (e.g. https://{tenant}.auth.example.com/); such a token speaks for that tenant only", t.String({ pattern: "^(https?://[^\\s]*\\{tenant\\}[^\\s]*)?$" })),
  opt("audience", "string", "urn:authhero:management", "required token audience", t.String({ minLength: 1 })),
  opt("trustOrgName", "bool", false, "let an org_name claim name the tenant when org_id is absent", t.Boolean()),
  opt("allowedOrigins", "list", [], "browser origins allowed on the gateway's own /api/v2 answers besides the tenant's clients' web_origins (AuthHero's allowedOrigins)", t.Array(t.String({ pattern: "^https?://[^\\s/]+$" }))),
  opt("trustedProxies", "list", [], "peers (IPs or CIDRs) whose X-Forwarded-Host is believed", t.Array(t.String({ minLength: 1 }))),
  opt("dev", "bool", false, "local development: trust tokens from `tenantgate token` (loopback hosts only)", t.Boolean()),
  opt("adoptFiles", "bool", true, "register tenant files that appear without a control-plane row", t.Boolean()),
  opt(
    "universalLoginVersion",
    "string",
    "1",
    "the login pages of each new tenant's Default App: 1, AuthHero's server-rendered /u pages; 2, its /u2 pages, which need AuthHero's widget (@authhero/widget) served by the AuthHero host",
    t.Union([t.Literal("1"), t.Literal("2")]),
  ),
  opt("trashRetentionDays", "int", 30, "days a deprovisioned tenant file stays in .trash/", t.Integer({ minimum: 0 })),
  opt("rescanSeconds", "int", 30, "seconds between full rescans of the data directory", t.Integer({ minimum: 1 })),
  opt("maxOpenFiles", "int", 0, "tenant files open at once (0 = derived from ulimit -n)", t.Integer({ minimum: 0 })),
  opt("controlPlaneLockWaitMs", "int", 5000, "how long a read or write of the control plane's file waits for another process's lock on it before it fails (its SQLite busy timeout); its old name busyTimeoutMs (--busy-timeout-ms, TENANTGATE_BUSY_TIMEOUT_MS) still works", t.Integer({ minimum: 0 }), "busyTimeoutMs"),
  opt("upstreamTimeoutMs", "int", 30000, "time to wait for the upstream's response headers", t.Integer({ minimum: 1 })),
  opt("maxBodyBytes", "int", 134217728, "largest request body accepted (413 beyond it)", t.Integer({ minimum: 0 })),
  opt("bodyBufferBytes", "int", 65536, "a request body arrives whole before AuthHero is contacted: up to this many bytes in memory, a larger one in a temporary file (nginx's client_body_buffer_size)", t.Integer({ minimum: 0, maximum: GiB })),
  opt("bodyBufferTotalBytes", "int", 67108864, "request bodies held in memory at once, all clients together; past it, bodies go to temporary files", t.Integer({ minimum: 0, maximum: GiB })),
  opt("bodyTempDir", "string", "", "where request bodies over --body-buffer-bytes are written while they arrive (default <data-dir>/body-temp); each file is unlinked once open, so none outlives its request", t.String()),
  opt("clientTimeoutSeconds", "int", 10, "a client connection idle this long closes; a request head must arrive within it (408)", t.Integer({ minimum: 1, maximum: 255 })),
  opt("upstreamIdleMs", "int", 4000, "reuse an upstream connection idle at most this long (keep it below AuthHero's keep-alive timeout)", t.Integer({ minimum: 0 })),
  opt("preserveHost", "bool", false, "send AuthHero the Host the client used (off: AuthHero's own address); X-Forwarded-Host carries it either way", t.Boolean()),
  opt("upstreamConnections", "int", 128, "most connections the front door opens to the upstream, shared by all clients; requests beyond wait for one", t.Integer({ minimum: 1 })),
  opt("frontDoor", "bool", true, "forward plain AuthHero requests on raw sockets (off: every request goes through Bun.serve and fetch)", t.Boolean()),
  opt("managementPaths", "list", ["/api/v2/"], "path prefixes that need a management token", t.Array(t.String({ pattern: "^/" }))),
  opt("routing", "bool", true, "map hosts to tenants (off: every request is the control plane's)", t.Boolean()),
  opt("accessControl", "bool", true, "check management tokens against the tenant they ask for", t.Boolean()),
  opt("protection", "bool", true, "refuse edits of synced entities in child tenants", t.Boolean()),
  ...SYNCED_ENTITIES.map(({ syncSwitch }) => opt(syncSwitch.key, "bool", true, syncSwitch.help, t.Boolean())),
  opt("syncFilter", "list", [], "only entities whose metadata has every key=value here are synced", t.Array(t.String({ pattern: "^[^=]+=.*$" }))),
  opt("syncSecretKeys", "list", ["client_secret", "secret", "private_key", "api_key", "twilio_token", "app_secret", "configuration.client_secret"], "connection options never copied into tenants, nor their <key>_hint (a key, or a dotted path into a nested object); masked in effective-settings", t.Array(t.String({ minLength: 1 }))),
  opt("syncPollSeconds", "int", 10, "seconds between safety-net polls of the outbox", t.Integer({ minimum: 1 })),
  opt("syncLeaseSeconds", "int", 10, "gateways sharing a control plane run one outbox relay, the holder of a lease it renews every third of this; a gateway that dies is replaced within it", t.Integer({ minimum: 3, maximum: 3600 })),
  opt("syncWorkers", "int", 4, "threads that apply a large fan-out in parallel (0: none); the work waits on disk, not CPU", t.Integer({ minimum: 0, maximum: 32 })),
  opt("syncLockWaitMs", "int", 100, "how long a write into a tenant file (the relay's, its fan-out threads') waits for another process's lock on it before the relay backs off and tries later (the SQLite busy timeout of the gateway's tenant-file handles)", t.Integer({ minimum: 0 })),
  opt("outboxRetentionHours", "int", 24, "hours applied outbox rows are kept before compaction", t.Integer({ minimum: 0 })),
  opt("logLevel", "string", "info", "pino log level", t.Union(["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((l) => t.Literal(l)))),
];

export const ConfigSchema = t.Object(Object.fromEntries(OPTIONS.map((o) => [o.key, o.schema])) as Record<string, TSchema>);

/** Every option, and each part's options as a group (config/groups.ts): `config.tenancy`, `config.sync`, … */
export type Config = Settings & ConfigGroups;

export type TenancyConfig = ConfigGroups["tenancy"];
export type HostsConfig = ConfigGroups["hosts"];
export type ForwardingConfig = ConfigGroups["forwarding"];
export type TokensConfig = ConfigGroups["tokens"];
export type SyncConfig = ConfigGroups["sync"];
export type FrontConfig = ConfigGroups["front"];

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

function opt(key: keyof Settings, kind: Kind, def: unknown, help: string, schema: TSchema, formerly?: string): Option {
  return { key, kind, default: def, help, schema, flag: flagOf(key), formerly };
}

function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
const envOf = (flag: string) => `TENANTGATE_${flag.replace(/-/g, "_").toUpperCase()}`;
const envName = (o: Option) => envOf(o.flag);
/** The option's flags: its own, then the one it had before a rename. */
const flagsOf = (o: Option) => (o.formerly ? [o.flag, flagOf(o.formerly)] : [o.flag]);
const byFlag = (flag: string) => OPTIONS.find((o) => flagsOf(o).includes(flag));

function coerce(o: Option, raw: string, source: string): unknown {
  switch (o.kind) {
    case "string":
      return raw;
    case "list":
      return raw.split(",").map((s) => s.trim()).filter(Boolean);
    case "int": {
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${o.key} (${source}): expected a whole number, got "${raw}"`);
      return Number(raw);
    }
    case "bool": {
      const value = readBoolean(raw);
      if (value === undefined) throw new ConfigError(`${o.key} (${source}): expected true or false, got "${raw}"`);
      return value;
    }
  }
}

export interface ConfigSources {
  argv?: readonly string[];
  env?: Record<string, string | undefined>;
}

export interface LoadOptions {
  /**
   * Whether the config is for verifying tokens (serve, the default): then, with access control on
   * and no --dev, an issuer is required. A command that never verifies one does not need it.
   */
  verifiesTokens?: boolean;
}

/**
 * Builds the config: defaults, then the config file (`--config` or TENANTGATE_CONFIG, JSON with the
 * camelCase keys), then TENANTGATE_* variables, then flags. Every problem names the key and where the
 * bad value came from. Returns the remaining positional arguments too.
 */
export function loadConfig(sources: ConfigSources = {}, { verifiesTokens = true }: LoadOptions = {}): { config: Config; rest: string[] } {
  const argv = [...(sources.argv ?? [])];
  const env = sources.env ?? process.env;
  const values: Record<string, unknown> = Object.fromEntries(OPTIONS.map((o) => [o.key, o.default]));
  const origin: Record<string, string> = Object.fromEntries(OPTIONS.map((o) => [o.key, "default"]));

  const { flags, rest, configFile } = parseFlags(argv);
  const file = configFile ?? env.TENANTGATE_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new ConfigError(`config file ${file}: ${(err as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new ConfigError(`config file ${file}: expected a JSON object`);
    for (const [key, value] of Object.entries(parsed)) {
      const o = OPTIONS.find((x) => x.key === key || x.formerly === key || flagsOf(x).includes(key));
      if (!o) throw new ConfigError(`config file ${file}: unknown key "${key}"`);
      values[o.key] = o.kind === "list" && typeof value === "string" ? coerce(o, value, `config file ${file}`) : value;
      origin[o.key] = `config file ${file}`;
    }
  }
  for (const o of OPTIONS) {
    // The option's own name beats the one it had before a rename.
    const name = flagsOf(o).map(envOf).find((n) => env[n] !== undefined);
    if (name !== undefined) {
      values[o.key] = coerce(o, env[name] as string, name);
      origin[o.key] = name;
    }
  }
  for (const { name: flag, text: raw } of flags) {
    const o = byFlag(flag);
    if (!o) throw new ConfigError(`unknown option --${flag} (see --help)`);
    if (o.kind === "bool" && raw === undefined) values[o.key] = true;
    else if (raw === undefined) throw new ConfigError(`option --${flag} needs a value`);
    else values[o.key] = coerce(o, raw, `--${flag}`);
    origin[o.key] = `--${flag}`;
  }

  for (const o of OPTIONS) {
    const first = Value.Errors(o.schema, values[o.key]).First();
    // A choice among words says which words, not TypeBox's "Expected union value".
    const choices = (o.schema.anyOf as TSchema[] | undefined)?.map((c) => c.const).filter((c) => c !== undefined);
    const rule = choices?.length ? `expected one of ${choices.map((c) => JSON.stringify(c)).join(", ")}` : first?.message;
    if (first) throw new ConfigError(`${o.key} (from ${origin[o.key]}): ${rule}; got ${JSON.stringify(values[o.key])}`);
  }
  const config = withGroups(values as unknown as Settings);
  config.dataDir = resolve(config.dataDir);
  if (config.databaseUrl && !config.databaseAdminUrl)
    throw new ConfigError(`databaseAdminUrl: required with databaseUrl (from ${origin.databaseUrl}): tenants are made and removed as namespaces through sqld's admin API (--admin-listen-addr); set --database-admin-url or TENANTGATE_DATABASE_ADMIN_URL`);
  config.baseDomain = config.baseDomain.replace(/\.$/, "");
  for (const entry of config.trustedProxies) {
    if (isIP(entry.split("/")[0] ?? "") === 0) throw new ConfigError(`trustedProxies (from ${origin.trustedProxies}): "${entry}" is not an IP address or CIDR range`);
  }
  if (config.reserved.includes(config.controlPlane)) throw new ConfigError(`reserved: must not list the control plane's id "${config.controlPlane}"`);
  if (config.dev && !isLoopback(config.host))
    throw new ConfigError(`dev (from ${origin.dev}): refusing to run in dev mode on non-loopback host ${config.host}; dev tokens are trusted`);
  if (verifiesTokens && config.accessControl && !config.dev && config.issuer.length === 0)
    throw new ConfigError("issuer: required when access control is on (set --issuer or TENANTGATE_ISSUER to AuthHero's issuer URL)");
  if (!config.jwksUrl) config.jwksUrl = `${config.upstream.replace(/\/+$/, "")}/.well-known/jwks.json`;
  config.bodyTempDir = config.bodyTempDir ? resolve(config.bodyTempDir) : join(config.dataDir, "body-temp");
  return { config, rest };
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

// `--config` takes the next argument whatever it is, as it always has; the options' values do not
// take one that starts with `--` (see readArgs).
const ARG_KINDS: Record<string, ArgKind> = { config: "file", ...Object.fromEntries(OPTIONS.flatMap((o) => flagsOf(o).map((flag) => [flag, o.kind === "bool" ? "switch" : "value"]))) };

function parseFlags(argv: string[]): { flags: GivenOption[]; rest: string[]; configFile?: string } {
  const { options, positionals } = readArgs(argv, ARG_KINDS);
  let configFile: string | undefined;
  const flags: GivenOption[] = [];
  for (const given of options) {
    if (given.name === "config") configFile = given.text;
    else flags.push(given);
  }
  return { flags, rest: positionals, configFile };
}

/** Options whose empty default is computed at load time from the others. */
const DERIVED = new Set<keyof Settings>(["jwksUrl", "bodyTempDir"]);

/** The `--help` text: every option with its environment name and default. */
export function configHelp(): string {
  const lines = OPTIONS.map((o) => {
    // An empty default is computed at load time (DERIVED) or means the feature is off.
    const def = Array.isArray(o.default) ? (o.default.length ? o.default.join(",") : "none") : o.default === "" ? (DERIVED.has(o.key) ? "derived" : "none") : String(o.default);
    const value = o.kind === "bool" ? "" : o.kind === "list" ? " <a,b>" : o.kind === "int" ? " <n>" : " <value>";
    return `  --${o.flag}${value}\n      ${o.help}\n      env ${envName(o)}; default ${def}`;
  });
  return [
    "  --config <file>\n      JSON file with any of the options below (camelCase keys)\n      env TENANTGATE_CONFIG",
    ...lines,
    "\n  Boolean options take --name, --name=false or --no-name.",
  ].join("\n");
}
export { readArgs } from "./argv.ts";
export type { ArgKind } from "./argv.ts";
export { readBoolean } from "./boolean.ts";
