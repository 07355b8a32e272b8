/**
 * The ways the upstream's router could read a request path, as lists of segments: split on `/`
 * first and then percent-decoded per segment (how Hono reads route parameters, so `%2F` stays
 * inside an id), and fully decoded first and then split (how a looser router would). Backslashes
 * count as slashes, empty and `.` segments vanish, `..` climbs. Checks take every reading, so no
 * spelling of a path slips past a rule that one of them would match.
 */
export function pathReadings(pathname: string): string[][] {
  // Most paths have nothing to decode or tidy: one reading, no work.
  if (!PLAIN_PATH_NEEDS_WORK.test(pathname)) return [pathname.split("/").filter((s) => s !== "")];
  const perSegment = tidy(pathname.replace(/\\/g, "/").split("/").map(decodeOnce));
  const decoded = tidy(decodeFully(pathname).replace(/\\/g, "/").split("/"));
  return sameSegments(perSegment, decoded) ? [perSegment] : [perSegment, decoded];
}

/** Escapes, backslashes, dot segments and empty segments are what make readings differ. */
const PLAIN_PATH_NEEDS_WORK = /[%\\]|\/\.|\/\//;

/** Whether any reading of the path starts with one of the prefixes (segment lists, case-insensitive). */
export function matchesPrefix(readings: string[][], prefixes: readonly string[][]): boolean {
  return readings.some((segments) => prefixes.some((prefix) => prefix.every((p, i) => segments[i]?.toLowerCase() === p)));
}

/** Each reading's segments after the management prefix it starts with (none for a reading outside them). */
export function belowPrefixes(readings: string[][], prefixes: readonly string[][]): string[][] {
  return readings.flatMap((segments) => prefixes.filter((p) => p.every((s, i) => segments[i]?.toLowerCase() === s)).map((p) => segments.slice(p.length)));
}

/** `/api/v2/` → `["api", "v2"]`. */
export function prefixSegments(prefix: string): string[] {
  return tidy(prefix.toLowerCase().split("/"));
}

function tidy(raw: string[]): string[] {
  const out: string[] = [];
  for (const s of raw) {
    if (s === "" || s === ".") continue;
    if (s === "..") out.pop();
    else out.push(s);
  }
  return out;
}

function decodeOnce(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function decodeFully(path: string): string {
  let current = path;
  for (let i = 0; i < 4 && current.includes("%"); i++) {
    const next = decodeOnce(current);
    if (next === current) break;
    current = next;
  }
  return current;
}

function sameSegments(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}
