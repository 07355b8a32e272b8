import { afterAll, expect, test } from "bun:test";
import { runCli } from "./index.ts";

let status = 200;
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => new Response(null, { status: new URL(request.url).pathname === "/healthz" ? status : 404 }) });
afterAll(() => server.stop(true));

const health = async (...args: string[]) => {
  const lines: string[] = [];
  const code = await runCli(["health", ...args], { out: (line) => void lines.push(line), env: {} });
  return { code, lines };
};

test("exit 0 when the gateway at --host and --port answers /healthz, 1 when it fails or is not there", async () => {
  expect(await health("--port", String(server.port))).toEqual({ code: 0, lines: ["healthz: 200"] });
  // A gateway listening on every address is asked on the loopback one.
  expect(await health("--host", "0.0.0.0", "--port", String(server.port))).toEqual({ code: 0, lines: ["healthz: 200"] });
  status = 503;
  expect(await health("--port", String(server.port))).toEqual({ code: 1, lines: ["healthz: 503"] });
  const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = closed.port as number;
  closed.stop(true);
  const down = await health("--port", String(port));
  expect(down.code).toBe(1);
  expect(down.lines[0]).toStartWith("healthz: ");
});
