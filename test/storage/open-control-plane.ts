// One process opening a control-plane file at an agreed moment (used by control-plane-race.test.ts).
import { openControlPlaneFile } from "../../src/storage/control-plane.ts";

const [path, at] = process.argv.slice(2) as [string, string];
while (Date.now() < Number(at)) await Bun.sleep(1);
const cp = openControlPlaneFile(path, "control_plane", { busyTimeoutMs: 5000 });
console.log((await cp.tenantIds()).join(","));
cp.close();
