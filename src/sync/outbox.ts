import type { Database } from "bun:sqlite";
import { ORGANIZATION_ENTITY } from "./triggers.ts";

/** One captured change: the entity it touched, in commit order. */
export interface OutboxEvent {
  seq: number;
  entity: string;
  entity_id: string;
}

/**
 * The outbox on the control plane (`tenantgate_outbox`), as the relay reads and trims it: the
 * capture triggers append to it inside every writer's transaction, and nothing else writes it.
 */
export class Outbox {
  constructor(private readonly db: Database) {}

  /** The newest seq handed out: compaction always keeps its row, so this is never 0 again once events were captured. */
  head(): number {
    return (this.db.query("SELECT coalesce(max(seq), 0) AS head FROM tenantgate_outbox").get() as { head: number }).head;
  }

  /**
   * The newest event a tenant file must have applied: organization events only refresh the gateway's
   * caches, so a tenant behind by those alone is in sync. Otherwise every provisioning (one
   * organization event) would make every other tenant file due for a write.
   */
  syncHead(): number {
    return (this.db.query("SELECT coalesce(max(seq), 0) AS seq FROM tenantgate_outbox WHERE entity != ?").get(ORGANIZATION_ENTITY) as { seq: number }).seq;
  }

  /** The oldest seq kept (older ones were compacted away); null for an empty outbox. */
  oldest(): number | null {
    return (this.db.query("SELECT min(seq) AS seq FROM tenantgate_outbox").get() as { seq: number | null }).seq;
  }

  /** The events after `from`, up to and including `to`, in order. */
  events(from: number, to: number): OutboxEvent[] {
    return this.db.query("SELECT seq, entity, entity_id FROM tenantgate_outbox WHERE seq > ? AND seq <= ? ORDER BY seq").all(from, to) as OutboxEvent[];
  }

  /** When the first event after `seq` was captured; undefined when there is none. */
  capturedAfter(seq: number): string | undefined {
    return (this.db.query("SELECT created_at FROM tenantgate_outbox WHERE seq > ? ORDER BY seq LIMIT 1").get(seq) as { created_at: string } | null)?.created_at;
  }

  /**
   * Deletes the events every tenant has applied (up to `floor`) that were captured before `before`,
   * and says how many went. The newest row stays: it is the head (AUTOINCREMENT goes on from it), and
   * an empty outbox would read as head 0 while every cursor is past it.
   */
  compact(floor: number, before: string): number {
    return this.db.query("DELETE FROM tenantgate_outbox WHERE seq <= ? AND seq < ? AND created_at < ?").run(floor, this.head(), before).changes;
  }
}
