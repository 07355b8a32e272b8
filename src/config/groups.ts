import type { Settings } from "./settings.ts";
import { SYNCED_ENTITIES } from "../synced-entities.ts";

const SYNC_SWITCHES = SYNCED_ENTITIES.map((e) => e.syncSwitch.key);

/**
 * Which options each part of the gateway is built from: the one place that maps the flat list of
 * options onto the parts. An option several parts read is in each of their groups; every group is a
 * view of the one value, never a copy that could disagree with it.
 */
export const GROUPS = {
  /** The data directory: the control plane, the tenant files and their lifecycle (openTenancy). */
  tenancy: ["dataDir", "databaseUrl", "databaseAdminUrl", "databaseAuthToken", "controlPlane", "reserved", "maxOpenFiles", "controlPlaneLockWaitMs", "syncLockWaitMs", "trashRetentionDays", "universalLoginVersion"],
  /** The data directory's watcher (DataDirWatch). */
  watch: ["adoptFiles", "rescanSeconds"],
  /** Which tenant a request's host names (targetRules). */
  hosts: ["baseDomain", "reserved", "controlPlane", "trustedProxies", "routing"],
  /** The way to AuthHero for the requests the gateway forwards itself (upstreamOptions). */
  forwarding: ["upstream", "upstreamTimeoutMs", "preserveHost"],
  /** What the proxy lets through to AuthHero (createProxy). */
  proxy: ["managementPaths", "accessControl", "protection", "maxBodyBytes"],
  /** How request bodies are held until they are whole, on either transport (openBodyBuffers). */
  bodies: ["bodyBufferBytes", "bodyBufferTotalBytes", "bodyTempDir"],
  /** Which tokens are believed and whom they speak for (verifierFor, principalOf); the dev key is in the data directory. */
  tokens: ["jwksUrl", "issuer", "tenantIssuer", "audience", "trustOrgName", "dev", "dataDir", "controlPlane"],
  /** The outbox relay (openRelay). */
  sync: ["controlPlane", ...SYNC_SWITCHES, "syncFilter", "syncSecretKeys", "syncPollSeconds", "syncLeaseSeconds", "syncWorkers", "syncLockWaitMs", "outboxRetentionHours"],
  /** The gateway's own /api/v2 answers: CORS, the tenants API, the effective settings. */
  api: ["allowedOrigins", "baseDomain", "syncSecretKeys"],
  /** The serving process: where it listens, how long an idle client may stay, whether the front door is in front, its log. */
  server: ["host", "port", "clientTimeoutSeconds", "frontDoor", "logLevel"],
  /** The front door, which forwards plain requests on its own thread (frontDoorOptions). */
  front: ["host", "port", "clientTimeoutSeconds", "upstream", "upstreamTimeoutMs", "upstreamIdleMs", "upstreamConnections", "preserveHost", "managementPaths", "accessControl", "maxBodyBytes", "trustedProxies"],
} as const satisfies Record<string, readonly (keyof Settings)[]>;

// No group may be named as an option (`upstream`, `routing`): its getter would hide the option.
export type GroupName = keyof typeof GROUPS;
export type ConfigGroups = { readonly [G in GroupName]: Pick<Settings, (typeof GROUPS)[G][number]> };

/**
 * The settings with each group as a property: a getter, so a group always shows the values as they
 * are now, and (not enumerable) spreading or printing the config shows the options alone.
 */
export function withGroups<S extends Settings>(settings: S): S & ConfigGroups {
  for (const [group, keys] of Object.entries(GROUPS)) {
    Object.defineProperty(settings, group, {
      enumerable: false,
      get(this: S) {
        return Object.fromEntries(keys.map((key) => [key, this[key]]));
      },
    });
  }
  return settings as S & ConfigGroups;
}
