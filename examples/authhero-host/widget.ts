// AuthHero's /u2 login pages load its widget (the @authhero/widget package's build) from the host at
// /u/widget/*. When the package is installed it is served from here; without it the /u2 pages render
// no form, and tenantgate's default (--universal-login-version 1) keeps tenants on the /u pages.
import { dirname, join, relative } from "node:path";
import { serveStatic } from "hono/bun";

export async function widgetHandler() {
  let manifest: string;
  try {
    manifest = import.meta.resolve("@authhero/widget/package.json");
  } catch {
    return undefined;
  }
  const root = join(dirname(new URL(manifest).pathname), "dist", "authhero-widget");
  return serveStatic({ root: relative(process.cwd(), root), rewriteRequestPath: (path) => path.replace(/^\/u\/widget/, "") });
}
