/**
 * The URL of a worker thread's entry file, given by its path below `src/`. This module sits in `src/`,
 * so from source that is the file itself; in a `bun build --compile` binary every module shares the
 * bundle's URL (`/$bunfs/root/<binary>`) and each entry point sits at its path below the build's
 * common root (`src/`), which is the same URL. The entry must be listed in the build (package.json).
 */
export function workerEntry(pathBelowSrc: string): string {
  return new URL(`./${pathBelowSrc}`, import.meta.url).href;
}
