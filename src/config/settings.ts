import type { SyncSwitch } from "../synced-entities.ts";

/** Every option's value; the per-kind sync switches (`syncRoles`, …) come from the synced entities' list. */
export interface Settings extends Record<SyncSwitch, boolean> {
  port: number;
  host: string;
  dataDir: string;
  baseDomain: string;
  controlPlane: string;
  reserved: string[];
  upstream: string;
  jwksUrl: string;
  issuer: string[];
  tenantIssuer: string;
  audience: string;
  trustOrgName: boolean;
  allowedOrigins: string[];
  trustedProxies: string[];
  dev: boolean;
  adoptFiles: boolean;
  trashRetentionDays: number;
  universalLoginVersion: "1" | "2";
  rescanSeconds: number;
  maxOpenFiles: number;
  controlPlaneLockWaitMs: number;
  upstreamTimeoutMs: number;
  maxBodyBytes: number;
  bodyBufferBytes: number;
  bodyBufferTotalBytes: number;
  bodyTempDir: string;
  frontDoor: boolean;
  upstreamIdleMs: number;
  upstreamConnections: number;
  preserveHost: boolean;
  clientTimeoutSeconds: number;
  managementPaths: string[];
  routing: boolean;
  accessControl: boolean;
  protection: boolean;
  syncFilter: string[];
  syncSecretKeys: string[];
  syncPollSeconds: number;
  syncWorkers: number;
  syncLockWaitMs: number;
  outboxRetentionHours: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
}
