import { existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

const SIDE_FILES = ["", "-wal", "-shm"];

export function removeDbFiles(path: string): void {
  for (const suffix of SIDE_FILES) rmSync(path + suffix, { force: true });
}

/** Moves a database with its side files; the main file last, so a crash never strands a WAL. */
export function moveDbFiles(from: string, to: string): void {
  for (const suffix of ["-wal", "-shm", ""]) {
    if (existsSync(from + suffix)) renameSync(from + suffix, to + suffix);
  }
}

/**
 * Where an operation builds a tenant file before it is renamed into place: named by the operation
 * (`work`), so the sweep of the scratch folder (`<tenant>.<operation>.…`) spares the files of running ones.
 */
export function scratchFileOf(tmpDir: string, op: { id: string; tenantId: string }): string {
  return join(tmpDir, `${op.tenantId}.${op.id}.sqlite`);
}
