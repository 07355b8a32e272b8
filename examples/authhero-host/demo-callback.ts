// A landing page for trying a login without an application of your own: the control-plane client
// bootstrap.ts makes lists `<public URL>/demo/callback` (on every tenant's host too) among its
// callbacks, so a tenant's Default App can send the browser back here. It shows what arrived (the
// authorization code, or AuthHero's error) on which host; it is this example's, not AuthHero's.
const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function demoCallback(request: Request): Response | undefined {
  const url = new URL(request.url);
  if (url.pathname !== "/demo/callback") return undefined;
  const host = request.headers.get("x-forwarded-host") ?? url.host;
  const params = [...url.searchParams].map(([k, v]) => `<tr><th>${escape(k)}</th><td><code>${escape(v)}</code></td></tr>`).join("");
  const ok = url.searchParams.has("code");
  const body = `<!doctype html><meta charset="utf-8"><title>${ok ? "Signed in" : "Login ended"}</title>
<body style="font-family:system-ui;max-width:40em;margin:3em auto">
<h1 id="result">${ok ? "Signed in" : "The login ended without a code"}</h1>
<p>The browser came back to <code>${escape(host)}</code> with:</p><table>${params}</table>
<p>An application would now exchange the code at <code>/oauth/token</code> on the same host.</p></body>`;
  return new Response(body, { headers: { "content-type": "text/html; charset=utf-8" } });
}
