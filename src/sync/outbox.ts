import type { SqlReader, SqlWriter } from "../storage/files.ts";
import { ORGANIZATION_ENTITY } from "./triggers.ts";

/** One captured change: the entity it touched, in commit order. */
export interface OutboxEvent {
  seq: number;
  entity: string;
  entity_id: string;
}

/**
 * The outbox on the control plane (`tenantgate_outbox`), as the relay reads it: the capture triggers
 * append to it inside every writer's transaction, and nothing else writes it but `compactOutbox`.
 * Over the control plane itself, or over one snapshot of it where reads must agree.
 */
export class Outbox {
  constructor(private readonly db: SqlReader) {}

  /** The newest seq handed out: compaction always keeps its row, so this is never 0 again once events were captured. */
  async head(): Promise<number> {
    return ((await this.db.get<{ head: number }>("SELECT coalesce(max(seq), 0) AS head FROM tenantgate_outbox")) as { head: number }).head;
  }

  /**
   * The newest event a tenant file must have applied: organization events only refresh the gateway's
   * caches, so a tenant behind by those alone is in sync. Otherwise every provisioning (one
   * organization event) would make every other tenant file due for a write.
   */
  async syncHead(): Promise<number> {
    return ((await this.db.get<{ seq: number }>("SELECT coalesce(max(seq), 0) AS seq FROM tenantgate_outbox WHERE entity != ?", [ORGANIZATION_ENTITY])) as { seq: number }).seq;
  }

  /** The oldest seq kept (older ones were compacted away); null for an empty outbox. */
  async oldest(): Promise<number | null> {
    return ((await this.db.get<{ seq: number | null }>("SELECT min(seq) AS seq FROM tenantgate_outbox")) as { seq: number | null }).seq;
  }

  /** The events after `from`, up to and including `to`, in order. */
  events(from: number, to: number): Promise<OutboxEvent[]> {
    return this.db.all<OutboxEvent>("SELECT seq, entity, entity_id FROM tenantgate_outbox WHERE seq > ? AND seq <= ? ORDER BY seq", [from, to]);
  }

  /** When the first event after `seq` was captured; undefined when there is none. */
  async capturedAfter(seq: number): Promise<string | undefined> {
    return (await this.db.get<{ created_at: string }>("SELECT created_at FROM tenantgate_outbox WHERE seq > ? ORDER BY seq LIMIT 1", [seq]))?.created_at;
  }
}

/**
 * Deletes the events every tenant has applied (up to `floor`) that were captured before `before`,
 * and says how many went. The newest row stays: it is the head (AUTOINCREMENT goes on from it), and
 * an empty outbox would read as head 0 while every cursor is past it. One statement, so the head it
 * keeps is the head when it runs.
 */
export function compactOutbox(db: SqlWriter, floor: number, before: string): Promise<number> {
  return db.run("DELETE FROM tenantgate_outbox WHERE seq <= ? AND seq < (SELECT max(seq) FROM tenantgate_outbox) AND created_at < ?", [floor, before]);
}
