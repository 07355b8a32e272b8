import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { identityOf, probeDatabase, sameIdentity, type FileIdentity } from "../storage/files.ts";
import { BACKGROUND_SHARE, SLICE_MS, timeSlices } from "../time-slices.ts";
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
 * identity (a look through SQLite costs a file open) and again when the file changes. With a
 * `memory` file, the verdicts outlive the process: a start takes a remembered verdict for a file
 * that still has the identity it was judged on, so a restart over thousands of unchanged files
 * costs a stat each instead of an open each.
 */
export class FilePresence implements TenantPresence {
  private files = new Set<string>();
  /** Whether each file is a database, and the identity it had when that was decided. */
  private readonly verdicts = new Map<string, Verdict>();
  /** Verdicts an earlier process wrote to `memory`, each taken once its file is asked about and found unchanged. */
  private readonly remembered: Map<string, Verdict>;
  /** Verdicts changed since `memory` was last written. */
  private unsaved = false;
  /** Files whose next look is a full check: they shrank, or were found unreadable before they changed. */
  private readonly suspects = new Set<string>();

  constructor(
    private readonly dir: string,
    /** Which names are tenant files (a tenant id or the control plane's). */
    private readonly isFileId: (id: string) => boolean,
    /** Where the verdicts are kept between processes (written at each rescan that has news); none: not kept. */
    private readonly memory?: string,
  ) {
    this.remembered = memory ? readVerdicts(memory) : new Map();
    this.files = this.list();
  }

  of(id: string): Presence {
    // The watcher may not have told us yet of a file another process just put in place: look. What
    // the look finds is answered, not recorded: a read (a metrics scrape, a status list) that moved
    // the generation would flush every answer derived from it. The watcher and the rescan record it.
    if (!this.files.has(id) && !existsSync(this.pathOf(id))) return "missing";
    // No verdict: the file is gone (before the watcher said so), a missing file, not an unreadable one.
    const verdict = this.verdicts.get(id) ?? this.recall(id) ?? this.judge(id);
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
    this.unsaved = true;
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
    this.remembered.delete(id);
    this.unsaved = true;
    return true;
  }

  /**
   * Re-reads the folder. A file whose identity changed since it was judged is judged again when next
   * asked about. Verdicts with news since the last rescan are written to `memory`.
   */
  async rescan(): Promise<void> {
    const present = this.list();
    this.files = present;
    // 10,000 files are about 150 ms of stats.
    const slice = timeSlices(SLICE_MS, BACKGROUND_SHARE);
    for (const [id, verdict] of [...this.verdicts]) {
      await slice();
      // Judged again, or told of, while the rescan let requests through: that verdict is newer.
      if (this.verdicts.get(id) !== verdict) continue;
      const identity = present.has(id) ? identityOf(this.pathOf(id)) : undefined;
      if (!sameIdentity(verdict.identity, identity)) this.forget(id, verdict, identity);
    }
    for (const id of this.remembered.keys()) if (!present.has(id)) this.remembered.delete(id);
    this.persist();
  }

  /** Writes the verdicts to `memory` if any changed since they last were. */
  persist(): void {
    if (this.unsaved && this.memory) this.save(this.memory);
  }

  present(): Iterable<string> {
    return this.files;
  }

  pathOf(id: string): string {
    return join(this.dir, `${id}.sqlite`);
  }

  /** The tenant files in the folder now. */
  private list(): Set<string> {
    const present = new Set<string>();
    for (const name of readdirSync(this.dir)) {
      const m = FILE.exec(name);
      if (m?.[1] && this.isFileId(m[1])) present.add(m[1]);
    }
    return present;
  }

  /**
   * The verdict an earlier process left for this file, if the file still has the identity it was
   * judged on; one that changed since is judged afresh (and fully, if it shrank or was unreadable).
   */
  private recall(id: string): Verdict | undefined {
    const was = this.remembered.get(id);
    if (!was) return undefined;
    this.remembered.delete(id);
    const identity = identityOf(this.pathOf(id));
    if (!sameIdentity(was.identity, identity)) {
      this.forget(id, was, identity);
      return undefined;
    }
    this.verdicts.set(id, was);
    return was;
  }

  /**
   * Writes every verdict (taken or still only remembered) to `path`, whole or not at all. Not being
   * able to is no failure: the files are the truth, and the next start judges them again.
   */
  private save(path: string): void {
    const all = Object.fromEntries([...this.remembered, ...this.verdicts].filter(([id]) => this.files.has(id)));
    // Its own temporary name: a CLI command beside the gateway may be writing the memory too. Either
    // whole file will do; a verdict counts only for a file that still has its identity.
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify({ version: 1, verdicts: all }));
      renameSync(tmp, path);
      this.unsaved = false;
    } catch {
      // A read-only data directory, a full disk: kept in memory, tried again at the next rescan.
    }
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
    this.unsaved = true;
    return verdict;
  }

  /**
   * Drops a verdict whose file no longer has the identity it was judged on. A file that shrank, or was
   * unreadable, is suspect: its next look is a full check, since a file cut short keeps a readable schema.
   */
  private forget(id: string, verdict: Verdict, now: FileIdentity | undefined): void {
    if (!verdict.ok || shrank(verdict.identity, now)) this.suspects.add(id);
    this.verdicts.delete(id);
    this.unsaved = true;
  }
}

/** The verdicts a memory file holds; none when it is missing or not what `save` writes (it is only a shortcut). */
function readVerdicts(path: string): Map<string, Verdict> {
  const verdicts = new Map<string, Verdict>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return verdicts;
  }
  const entries = (parsed as { version?: unknown; verdicts?: unknown } | null)?.version === 1 ? (parsed as { verdicts: unknown }).verdicts : undefined;
  if (typeof entries !== "object" || entries === null) return verdicts;
  for (const [id, v] of Object.entries(entries)) if (isVerdict(v)) verdicts.set(id, v);
  return verdicts;
}

function isVerdict(v: unknown): v is Verdict {
  const x = v as Verdict;
  const i = x?.identity;
  return typeof x?.ok === "boolean" && typeof i === "object" && i !== null && [i.dev, i.ino, i.size, i.mtimeMs].every((n) => typeof n === "number") && (i.wal === null || typeof i.wal?.ino === "number");
}
