import { HttpError } from "./http-error.ts";

/**
 * JSON the gateway itself parses (its API's bodies, the creates the synced-entity guard looks into)
 * comes from clients, so its cost must be bounded by more than its size: nesting is counted before
 * `JSON.parse` sees it, in one pass that does not recurse, and whatever is refused is never echoed.
 */
export const MAX_JSON_DEPTH = 32;

/** The parsed value, or a 400 that says what is wrong with the body and never quotes it. */
export function parseBoundedJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  assertJsonDepth(text, maxDepth);
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "the request body is not valid JSON");
  }
}

/** A 400 when the text nests deeper than `maxDepth`, counted in one pass that does not recurse. */
export function assertJsonDepth(text: string, maxDepth = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character, a quote included
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) throw new HttpError(400, `the request body is nested deeper than ${maxDepth} levels; send a flatter JSON document`);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}
