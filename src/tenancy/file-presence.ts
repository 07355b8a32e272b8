import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { identityOf, probeDatabase, sameIdentity, type FileIdentity } from "../storage/files.ts";
import type { Presence, TenantPresence } from "./presence.ts";

/** A database file does not shrink in normal use (only VACUUM shrinks it): a cut-short one must be checked in full. */
function shrank(before: FileIdentity, now: FileIdentity | undefined): boolean {
  return now !== undefined && now.size < before.size;
}

interface Verdict {
  identity: FileIdentity;
  ok: boolean;
  reason?: string;
}

const FILE = /^(.+)\.sqlite$/;

/**
 * Tenant files in a folder: which are there, and whether each is a database, judged once per file
 * identity (a look through SQLite costs a file open) and again when the file changes.
 */
export class FilePresence implements TenantPresence {
  private files = new Set<string>();
  /** Whether each file is a database, and the identity it had when that was decided. */
  private readonly verdicts = new Map<string, Verdict>();
  /** Files whose next look is a full check: they shrank, or were found unreadable before they changed. */
  private readonly suspects = new Set<string>();

  constructor(
    private readonly dir: string,
    /** Which names are tenant files (a tenant id or the control plane's). */
    private readonly isFileId: (id: string) => boolean,
  ) {
    this.rescan();
  }

  of(id: string): Presence {
    // The watcher may not have told us yet of a file another process just put in place: look. What
    // the look finds is answered, not recorded: a read (a metrics scrape, a status list) that moved
    // the generation would flush every answer derived from it. The watcher and the rescan record it.
    if (!this.files.has(id) && !existsSync(this.pathOf(id))) return "missing";
    // No verdict: the file is gone (before the watcher said so), a missing file, not an unreadable one.
    const verdict = this.verdicts.get(id) ?? this.judge(id);
    if (!verdict) return "missing";
    return verdict.ok ? "ready" : "unreadable";
  }

  unreadableReason(id: string): string | undefined {
    const verdict = this.verdicts.get(id);
    return verdict && !verdict.ok ? verdict.reason : undefined;
  }

  unreadable(id: string, reason: string): boolean {
    const identity = identityOf(this.pathOf(id));
    if (!identity) return this.removed(id);
    const was = this.verdicts.get(id);
    this.verdicts.set(id, { identity, ok: false, reason });
    return was?.ok !== false;
  }

  added(id: string): boolean {
    if (!this.isFileId(id)) return false;
    const present = this.files.has(id);
    const earlier = this.verdicts.get(id);
    this.files.add(id);
    // A file already known changed its content (SQLite checkpoints do so all the time): the answers
    // change only if whether it can be read did. Moving the generation for every write would make
    // every host and token be asked about again.
    if (present && earlier) {
      const identity = identityOf(this.pathOf(id));
      if (sameIdentity(earlier.identity, identity)) return false;
      this.forget(id, earlier, identity);
      if (this.judge(id)?.ok === earlier.ok) return false;
    } else {
      this.verdicts.delete(id);
    }
    return true;
  }

  removed(id: string): boolean {
    this.files.delete(id);
    this.verdicts.delete(id);
    return true;
  }

  /** Re-reads the folder. A file whose identity changed since it was judged is judged again when next asked about. */
  rescan(): void {
    const present = new Set<string>();
    for (const name of readdirSync(this.dir)) {
      const m = FILE.exec(name);
      if (m?.[1] && this.isFileId(m[1])) present.add(m[1]);
    }
    for (const [id, verdict] of this.verdicts) {
      const identity = present.has(id) ? identityOf(this.pathOf(id)) : undefined;
      if (!sameIdentity(verdict.identity, identity)) this.forget(id, verdict, identity);
    }
    this.files = present;
  }

  present(): Iterable<string> {
    return this.files;
  }

  pathOf(id: string): string {
    return join(this.dir, `${id}.sqlite`);
  }

  /** Probes the file through SQLite; a suspect (see `forget`) gets a full quick_check. */
  private judge(id: string): Verdict | undefined {
    const deep = this.suspects.delete(id);
    const probe = probeDatabase(this.pathOf(id), { deep });
    if (probe.state === "missing") return undefined;
    // Locked by a writer for a moment: a database being written is no sign of a bad file. Ask again next time.
    if (probe.state === "busy") {
      if (deep) this.suspects.add(id);
      const identity = identityOf(this.pathOf(id));
      return identity && { identity, ok: true };
    }
    const verdict: Verdict = probe.state === "database" ? { identity: probe.identity, ok: true } : { identity: probe.identity, ok: false, reason: probe.reason };
    this.verdicts.set(id, verdict);
    return verdict;
  }

  /**
   * Drops a verdict whose file no longer has the identity it was judged on. A file that shrank, or was
   * unreadable, is suspect: its next look is a full check, since a file cut short keeps a readable schema.
   */
  private forget(id: string, verdict: Verdict, now: FileIdentity | undefined): void {
    if (!verdict.ok || shrank(verdict.identity, now)) this.suspects.add(id);
    this.verdicts.delete(id);
  }
}
