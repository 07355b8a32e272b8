// Which of a connection's options are secrets, and what a synced copy and an explanation of a
// tenant's settings do with them. A secret is named by its path: `client_secret`, or
// `configuration.client_secret` for one inside a nested object. AuthHero's management API answers a
// stored secret with a masked hint beside it (`client_secret_hint`: its first characters), so a
// hint stored beside a secret goes wherever the secret goes.

type Options = Record<string, unknown>;

const isObject = (v: unknown): v is Options => typeof v === "object" && v !== null && !Array.isArray(v);

/** The options without the secrets at `paths`, nor their `<name>_hint`. The input is not changed. */
export function withoutSecrets(options: Options, paths: readonly string[]): Options {
  let out = options;
  for (const path of paths) {
    out = edit(out, path.split("."), (holder, key) => {
      delete holder[key];
      delete holder[`${key}_hint`];
    });
  }
  return out;
}

/** The options with each secret that is set (at `paths`) replaced by `mask`. The input is not changed. */
export function maskSecrets(options: Options, paths: readonly string[], mask: string): Options {
  let out = options;
  for (const path of paths) {
    out = edit(out, path.split("."), (holder, key) => {
      if (holder[key] !== undefined && holder[key] !== null) holder[key] = mask;
    });
  }
  return out;
}

/**
 * `change` applied to a copy of the object that holds the path's last key; the objects along the
 * path are copied, everything else is shared. A path that leads through a non-object changes nothing.
 */
function edit(options: Options, path: string[], change: (holder: Options, key: string) => void): Options {
  const [key, ...rest] = path as [string, ...string[]];
  if (rest.length === 0) {
    const copy = { ...options };
    change(copy, key);
    return copy;
  }
  const inner = options[key];
  return isObject(inner) ? { ...options, [key]: edit(inner, rest, change) } : options;
}
