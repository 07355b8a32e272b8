import type { OrgDirectory } from "../auth/index.ts";
import type { ControlPlane } from "../storage/index.ts";
import type { ControlPlaneChanges } from "../storage/index.ts";
import type { TenantPresence } from "./presence.ts";

export type TenantStatus = "ready" | "unknown" | "missing" | "unreadable" | "provisioning" | "deleting";
export type BusyState = "provisioning" | "deleting";

/**
 * How stale a positive answer may be. A miss always looks again at once, so what another process
 * adds is seen immediately; what it removes, within this long.
 */
const FRESH_MS = 250;

/**
 * What the gateway knows about every tenant at this moment: which tenants the control plane lists,
 * whose databases are there and readable (the store's presence), which organizations and custom
 * domains point where, and which tenants are mid-lifecycle. Reloads from the control plane when the
 * changes say another process committed to it or when tenantgate's own lifecycle says so; presence
 * follows the watcher and a periodic rescan.
 */
export class TenantRegistry implements OrgDirectory {
  private known = new Set<string>();
  private orgToTenant = new Map<string, string>();
  private tenantToOrg = new Map<string, string>();
  private domainToTenant = new Map<string, string>();
  private readonly busy = new Map<string, BusyState>();
  private changes = 0;
  private readonly listeners = new Set<(generation: number) => void>();
  /** Ends the watch of the commits kept while anyone listens. */
  private unwatch?: () => Promise<void>;
  /** The reload under way, if any; `reloadAgain` asks for one more after it (something changed meanwhile). */
  private loading?: Promise<void>;
  private reloadAgain = false;
  /** Moves with tenantgate's own registrations: a reload that read before one must not undo it. */
  private ownChanges = 0;

  constructor(
    private readonly cp: ControlPlane,
    private readonly commits: ControlPlaneChanges,
    private readonly presence: TenantPresence,
  ) {
    // Subscribed first, so whoever is told after it and asks finds it reloaded.
    commits.subscribe((news) => {
      if (news === "commit") void this.reload().catch(() => {});
    });
  }

  /** Loads the control plane's facts the first time; the registry answers nothing true before. */
  async open(): Promise<this> {
    await this.reload();
    return this;
  }

  /**
   * Reloads control-plane facts if another connection committed since the last look (the commits
   * tell the registry of every look that finds one, whoever looked). `"cached"` looks only when no
   * one has for FRESH_MS (a look on every lookup was measured at a third of the gateway's CPU per
   * request); `"check"` looks now; `"reload"` reloads even if nothing changed.
   */
  async refresh(mode: "cached" | "check" | "reload" = "cached"): Promise<void> {
    const found = await (mode === "cached" ? this.commits.lookIfStale(FRESH_MS) : this.commits.look());
    if (!found && mode === "reload") void this.reload().catch(() => {});
    // A reload a look started (this one, or for "check" and "reload" anyone's) is awaited: what follows reads what it loaded.
    if ((found || mode !== "cached") && this.loading) await this.loading;
  }

  /**
   * Reads the control plane's tenants, organizations and ready domains, one reload at a time: one
   * asked for while another runs follows it, and so does one whose reads may predate tenantgate's
   * own registration (the registration's rows are committed by then, so the next read has them).
   */
  private reload(): Promise<void> {
    if (this.loading) {
      this.reloadAgain = true;
      return this.loading;
    }
    const run = async (): Promise<void> => {
      do {
        this.reloadAgain = false;
        const own = this.ownChanges;
        const [ids, orgs, domains] = await Promise.all([this.cp.tenantIds(), this.cp.organizations(), this.cp.domains()]);
        if (own !== this.ownChanges) {
          this.reloadAgain = true;
          continue;
        }
        this.known = new Set(ids);
        const orgToTenant = new Map<string, string>();
        const tenantToOrg = new Map<string, string>();
        for (const org of orgs) {
          orgToTenant.set(org.id, org.name);
          tenantToOrg.set(org.name, org.id);
        }
        this.orgToTenant = orgToTenant;
        this.tenantToOrg = tenantToOrg;
        // Only a ready domain routes: one a tenant's admin asked for waits for the control plane's approval.
        this.domainToTenant = new Map(domains.filter((d) => d.status === "ready").map((d) => [d.domain, d.tenant_id]));
        this.changed();
      } while (this.reloadAgain);
    };
    this.loading = run().finally(() => (this.loading = undefined));
    return this.loading;
  }

  async status(id: string): Promise<TenantStatus> {
    if (id === this.cp.id) return "ready";
    await this.refresh();
    if (!this.known.has(id) && !this.busy.has(id)) await this.refresh("check");
    return this.cachedStatus(id);
  }

  /**
   * The status as last loaded, without looking at the control plane: for reports over every tenant
   * (the sync summary, the relay's pass), which must not wait for a look per tenant.
   */
  cachedStatus(id: string): TenantStatus {
    if (id === this.cp.id) return "ready";
    const busy = this.busy.get(id);
    if (busy) return busy;
    if (!this.known.has(id)) return "unknown";
    return this.presence.of(id);
  }

  /** Why a tenant's database is unreadable, when it is. */
  unreadableReason(id: string): string | undefined {
    return this.presence.unreadableReason(id);
  }

  /**
   * SQLite said the database is not one or is corrupt while it was being used: the tenant is
   * unreadable (503) until it changes (is replaced or repaired), when it is looked at again.
   */
  fileUnreadable(id: string, reason: string): void {
    if (this.presence.unreadable(id, reason)) this.changed();
  }

  /** Every tenant the control plane lists (the control plane included). */
  async tenantIds(): Promise<string[]> {
    await this.refresh();
    return [...this.known];
  }

  /** Every tenant as last loaded, without a look (the relay's passes: the changes wake it after the reload). */
  cachedTenantIds(): string[] {
    return [...this.known];
  }

  tenantOfOrg(orgId: string): Promise<string | undefined> {
    return this.lookup(() => this.orgToTenant.get(orgId));
  }

  orgOfTenant(tenantId: string): Promise<string | undefined> {
    return this.lookup(() => this.tenantToOrg.get(tenantId));
  }

  customDomain(host: string): Promise<string | undefined> {
    return this.lookup(() => this.domainToTenant.get(host));
  }

  /** The tenant that claims a custom domain, as last loaded (no look): for checks that cannot wait. */
  cachedCustomDomain(host: string): string | undefined {
    return this.domainToTenant.get(host);
  }

  /** A cached answer, or on a miss the answer after looking at the control plane again. */
  private async lookup<T>(read: () => T | undefined): Promise<T | undefined> {
    await this.refresh();
    const found = read();
    if (found !== undefined) return found;
    await this.refresh("check");
    return read();
  }

  /**
   * A number that changes whenever anything the registry answers may have changed (a tenant's
   * status, an organization, a custom domain): whatever was derived from it (a token's principal, a
   * host's tenant) is stale once it moves.
   */
  generation(): number {
    void this.refresh().catch(() => {});
    return this.changes;
  }

  /**
   * Calls back with the new generation each time it moves (the front door's thread keeps answers
   * until then), other processes' commits included: while anyone listens, the control plane's commits
   * are watched, not only looked for at lookups. The returned function stops the listening.
   */
  onChange(listener: (generation: number) => void): () => Promise<void> {
    this.listeners.add(listener);
    this.unwatch ??= this.commits.watch();
    return async () => {
      if (!this.listeners.delete(listener) || this.listeners.size > 0) return;
      const unwatch = this.unwatch;
      this.unwatch = undefined;
      await unwatch?.();
    };
  }

  private changed(): void {
    this.changes++;
    for (const listener of this.listeners) listener(this.changes);
  }

  /**
   * tenantgate's own registration, applied without a reload: commits on this process's connection do
   * not move `data_version`, and a full reload per provision would make provisioning O(tenants).
   */
  tenantRegistered(id: string, orgId: string): void {
    this.ownChanges++;
    this.known.add(id);
    this.orgToTenant.set(orgId, id);
    this.tenantToOrg.set(id, orgId);
    this.changed();
  }

  tenantUnregistered(id: string): void {
    this.ownChanges++;
    this.known.delete(id);
    const orgId = this.tenantToOrg.get(id);
    if (orgId) this.orgToTenant.delete(orgId);
    this.tenantToOrg.delete(id);
    for (const [domain, owner] of this.domainToTenant) if (owner === id) this.domainToTenant.delete(domain);
    this.changed();
  }

  markBusy(id: string, state: BusyState): void {
    this.busy.set(id, state);
    this.changed();
  }

  clearBusy(id: string): void {
    this.busy.delete(id);
    this.changed();
  }

  fileAdded(id: string): void {
    if (this.presence.added(id)) this.changed();
  }

  fileRemoved(id: string): void {
    if (this.presence.removed(id)) this.changed();
  }

  /** Looks at every database again: the truth that corrects any event the watcher missed. */
  async rescan(): Promise<void> {
    await this.presence.rescan();
    this.changed();
  }

  /** At a clean stop: what the presence has judged is kept for the next start. */
  close(): void {
    this.presence.persist?.();
  }

  /** Databases named like a tenant that the control plane does not list and no operation is handling. */
  async orphans(): Promise<string[]> {
    await this.refresh();
    return [...this.presence.present()].filter((id) => id !== this.cp.id && !this.known.has(id) && !this.busy.has(id));
  }

  /** Child tenants by status, and unregistered files as `orphan`, for metrics and `doctor`. */
  async counts(): Promise<Record<Exclude<TenantStatus, "unknown"> | "orphan", number>> {
    await this.refresh();
    const counts = { ready: 0, missing: 0, unreadable: 0, provisioning: 0, deleting: 0, orphan: 0 };
    const ids = new Set([...this.known, ...this.busy.keys()]);
    ids.delete(this.cp.id);
    for (const id of ids) {
      const status = await this.status(id);
      if (status !== "unknown") counts[status]++;
    }
    counts.orphan = (await this.orphans()).length;
    return counts;
  }

}
