import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { errorToHttpError, errorToResponse } from "../../src/error-response.ts";
import { HttpError } from "../../src/http-error.ts";
import { TenantFileError } from "../../src/storage/pool.ts";
import { startGateway, type TestGateway } from "../support/gateway.ts";

// Every path a failure can take becomes the same answer (src/error-response.ts): inside the Elysia
// app, in the gateway's own handling outside it, and (as bytes) at the front door.

describe("errorToResponse", () => {
  test("a refusal is its own answer, headers and all", async () => {
    const res = errorToResponse(new HttpError(405, "no", { allow: "GET" }));
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
    expect(await res.json()).toEqual({ statusCode: 405, error: "Method Not Allowed", message: "no" });
  });

  test("a tenant file that cannot be opened is that tenant's 503, not logged as unexpected", async () => {
    const logged: unknown[] = [];
    const res = errorToResponse(new TenantFileError("acme", "missing", "unable to open database file"), (err) => logged.push(err));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ statusCode: 503, error: "Service Unavailable", message: 'tenant "acme" is unavailable: its file is missing' });
    expect(logged).toEqual([]);
  });

  test("anything else is a 500 that shows nothing of the cause, which goes to the log", async () => {
    const logged: unknown[] = [];
    const cause = new Error("secret detail");
    const res = errorToResponse(cause, (err) => logged.push(err));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ statusCode: 500, error: "Internal Server Error", message: "internal error; see the gateway's log" });
    expect(logged).toEqual([cause]);
    expect(errorToHttpError("not even an Error").status).toBe(500);
  });
});

describe("through a gateway", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    // The fetch path only: the gateway's own handling, with no front door deciding first.
    gw = await startGateway(["--upstream", "http://127.0.0.1:9", "--no-front-door"]);
    await gw.gateway.parts.lifecycle.create({ id: "broken", friendly_name: "Broken" });
    writeFileSync(join(gw.dataDir, "tenants", "broken.sqlite"), "garbage, not a database".repeat(100));
    gw.gateway.parts.pool.evict("broken");
  });
  afterAll(() => gw?.stop());

  test("a tenant file failure outside the Elysia app answers as it does inside it", async () => {
    const inside = await gw.request("localhost", "/api/v2/tenants/broken/effective-settings", { token: await gw.token() });
    // The proxied path (outside the app) reads no tenant file today; make it meet the same failure.
    const real = (gw.gateway as unknown as { pipeline: { proxy: () => Promise<Response> } }).pipeline;
    const proxy = real.proxy;
    real.proxy = async () => {
      throw new TenantFileError("broken", "unreadable", "file is not a database");
    };
    try {
      const outside = await gw.request("broken.localhost", "/authorize");
      expect(outside.status).toBe(inside.status);
      expect(await outside.json()).toEqual(await inside.json());
      expect(outside.headers.get("content-type")).toBe(inside.headers.get("content-type"));
      expect(outside.status).toBe(503);
    } finally {
      real.proxy = proxy;
    }
  });
});
