import type { FrontConfig } from "../config/index.ts";
import type { BodyBuffering } from "../proxy/body-buffer.ts";
import { upstreamOptions } from "../proxy/policy.ts";
import type { FrontDoorThreadOptions } from "./front-door-thread.ts";

/**
 * What the front door's thread starts with, from its options: where it listens, the upstream it
 * forwards to (read as the fetch path reads it), and the gateway's own server it hands the rest to.
 */
export function frontDoorOptions(
  front: FrontConfig,
  parts: { inner: { hostname: string; port: number }; accessLog: boolean; bodies: BodyBuffering },
): FrontDoorThreadOptions["door"] {
  const { upstream, basePath, timeoutMs } = upstreamOptions(front);
  return {
    hostname: front.host,
    port: front.port,
    upstream: {
      hostname: upstream.hostname.replace(/^\[|\]$/g, ""),
      port: Number(upstream.port || 80),
      basePath,
      host: upstream.host,
      preserveHost: front.preserveHost,
    },
    inner: parts.inner,
    timeoutMs,
    upstreamIdleMs: front.upstreamIdleMs,
    upstreamConnections: front.upstreamConnections,
    idleTimeoutSeconds: front.clientTimeoutSeconds,
    managementPaths: front.managementPaths,
    accessControl: front.accessControl,
    maxBodyBytes: front.maxBodyBytes,
    trustedProxies: front.trustedProxies,
    accessLog: parts.accessLog,
    // The budget's memory is shared: the two threads' bodies count against one total.
    bodies: { memoryBytes: parts.bodies.memoryBytes, tempDir: parts.bodies.tempDir, budgetBytes: parts.bodies.budget.total, budgetMemory: parts.bodies.budget.memory },
  };
}
