import type { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openSqlite } from "../storage/sqlite.ts";

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface OpenTenant<A> {
  db: Database;
  adapters: A;
}

/**
 * The AuthHero process's side of the one-file-per-tenant layout: opens `<dataDir>/tenants/<id>.sqlite`
 * on demand through the caller's `open` factory and keeps a bounded LRU of them, closing what falls
 * out (bun:sqlite holds a file's descriptors until its handle is closed). It never creates a file:
 * provisioning is the gateway's job, and an unknown id must behave like a missing row.
 */
export class TenantFiles<A> {
  private readonly open = new Map<string, OpenTenant<A>>();

  constructor(
    private readonly dir: string,
    private readonly controlPlane: string,
    private readonly factory: (db: Database, tenantId: string) => A,
    private readonly maxOpen: number,
    private readonly busyTimeoutMs = 5000,
  ) {}

  /** The tenant's adapters, or undefined when the id is not a tenant id or has no file. */
  get(tenantId: unknown): A | undefined {
    if (typeof tenantId !== "string" || !(tenantId === this.controlPlane || LABEL.test(tenantId))) return undefined;
    const held = this.open.get(tenantId);
    if (held) {
      this.open.delete(tenantId);
      this.open.set(tenantId, held);
      return held.adapters;
    }
    const path = join(this.dir, `${tenantId}.sqlite`);
    if (!existsSync(path)) return undefined;
    const db = openSqlite(path, { busyTimeoutMs: this.busyTimeoutMs });
    const entry = { db, adapters: this.factory(db, tenantId) };
    this.open.set(tenantId, entry);
    while (this.open.size > this.maxOpen) {
      const oldest = this.open.keys().next().value as string;
      // The control plane is read on every fallback: it stays.
      if (oldest === this.controlPlane) {
        const cp = this.open.get(oldest) as OpenTenant<A>;
        this.open.delete(oldest);
        this.open.set(oldest, cp);
        continue;
      }
      this.close(oldest);
    }
    return entry.adapters;
  }

  close(tenantId: string): void {
    const entry = this.open.get(tenantId);
    if (!entry) return;
    this.open.delete(tenantId);
    entry.db.close(false);
  }

  closeAll(): void {
    for (const id of [...this.open.keys()]) this.close(id);
  }

  get openCount(): number {
    return this.open.size;
  }
}
