// One of the racers of codes-race.test.ts, a process of its own: it opens tenant `argv[3]` on the
// libSQL server `argv[2]` through the AuthHero module's libSQL seam (the tests' adapters over each
// namespace's client), says "ready", then consumes each code id it reads on stdin and answers
// `{"code":…,"won":true|false}` (or `"error"`), one line each.
import { createTenantFileAdapters, libsqlTenantDatabases } from "../../src/authhero/index.ts";
import { LibsqlDb } from "../../src/storage/libsql.ts";
import { sqlAdapters } from "../authhero/sqlite-adapters.ts";

const [url, tenant, controlPlane = "control_plane"] = process.argv.slice(2);
if (!url || !tenant) throw new Error("usage: consume-codes.ts <server url> <tenant> [control plane]");
const server = { url };
const module = createTenantFileAdapters({
  controlPlaneTenantId: controlPlane,
  databases: libsqlTenantDatabases({ server, controlPlaneTenantId: controlPlane, open: (client, id) => sqlAdapters(new LibsqlDb(server, id, undefined, client)) }),
});
// Reached once before the race, so the first code is not also the first request.
await module.dataAdapter.codes.get(tenant, "warm-up", "otp");
console.log("ready");
for await (const line of console) {
  const code = line.trim();
  if (!code) continue;
  try {
    console.log(JSON.stringify({ code, won: await module.dataAdapter.codes.consume(tenant, code) }));
  } catch (err) {
    console.log(JSON.stringify({ code, error: String(err) }));
  }
}
module.close();
