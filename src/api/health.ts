import { Elysia, t } from "elysia";
import type { ControlPlane } from "../storage/index.ts";
import { MIGRATIONS_TABLE } from "../storage/index.ts";
import type { GatewayMetrics } from "./metrics.ts";

/** Liveness, readiness and metrics: answered on every host, without a token. */
/** `writeProblem`: why the control plane or the tenant files' folders cannot be written now, if they cannot. */
export function operationsApi(cp: Pick<ControlPlane, "id" | "sql">, metrics: GatewayMetrics, writeProblem: () => string | undefined) {
  return new Elysia({ name: "tenantgate/operations-api" })
    .get("/healthz", () => ({ status: "ok" }), {
      response: t.Object({ status: t.String() }),
      detail: { tags: ["operations"], summary: "The process is up" },
    })
    .get(
      "/readyz",
      async ({ set }) => {
        try {
          const migrated = await cp.sql.get<{ n: number }>(`SELECT count(*) AS n FROM ${MIGRATIONS_TABLE}`);
          if (!migrated?.n) throw new Error("no tenantgate migration applied");
          const unwritable = writeProblem();
          if (unwritable) throw new Error(unwritable);
          return { status: "ready", control_plane: cp.id };
        } catch (err) {
          set.status = 503;
          return { status: "not ready", control_plane: cp.id, reason: (err as Error).message };
        }
      },
      {
        response: { 200: t.Object({ status: t.String(), control_plane: t.String() }), 503: t.Object({ status: t.String(), control_plane: t.String(), reason: t.String() }) },
        detail: { tags: ["operations"], summary: "The control plane is open, migrated and writable, and so are the folders tenant files are made and retired in" },
      },
    )
    .get("/metrics", async () => new Response(await metrics.text(), { headers: { "content-type": metrics.registry.contentType } }), {
      detail: { tags: ["operations"], summary: "Prometheus metrics" },
    });
}
