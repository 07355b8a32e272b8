// The one rule for a true or false written as text, wherever tenantgate reads one: a gateway
// option's value (`--dev=yes`, TENANTGATE_DEV=yes) and a command's switch (`--purge=false`).
//   true:  1, true, yes, on, and the empty text
//   false: 0, false, no, off
// Case and blanks around the word do not matter. The empty text is true because the gateway's
// options always read it so (`--dev=`, TENANTGATE_DEV=): a switch named without a word is on.
// A config file's booleans are JSON's own true and false, not text.
const TRUE = new Set(["1", "true", "yes", "on", ""]);
const FALSE = new Set(["0", "false", "no", "off"]);

/** The boolean `text` spells, or undefined when it spells neither (the caller names the option). */
export function readBoolean(text: string): boolean | undefined {
  const word = text.trim().toLowerCase();
  if (TRUE.has(word)) return true;
  if (FALSE.has(word)) return false;
  return undefined;
}
