import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { TObject } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { HttpError } from "../http-error.ts";
import { readJsonBody } from "./json-body.ts";
import { CreateTenantBody, UpdateTenantBody } from "./schemas.ts";

const request = (body: string, type = "application/json") => new Request("http://localhost/api/v2/tenants", { method: "POST", headers: { "content-type": type }, body });

async function outcome(body: string, schema: TObject = CreateTenantBody): Promise<{ value: unknown } | HttpError> {
  try {
    return { value: await readJsonBody(request(body), schema) };
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
}

/** JSON texts of the shapes that cost a careless reader: depth, width, long strings, repeated and prototype keys. */
const hostileText = fc.oneof(
  fc.integer({ min: 1, max: 5000 }).map((n) => `{"friendly_name":"x","a":${"[".repeat(n)}${"]".repeat(n)}}`),
  fc.integer({ min: 1, max: 2000 }).map((n) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`),
  fc.integer({ min: 1, max: 20_000 }).map((n) => `{"friendly_name":"x","w":[${Array.from({ length: n }, (_, i) => i).join(",")}]}`),
  fc.integer({ min: 1, max: 60_000 }).map((n) => JSON.stringify({ friendly_name: "y".repeat(n) })),
  fc.array(fc.constantFrom("id", "friendly_name", "__proto__", "constructor", "prototype", "audience"), { maxLength: 12 }).map(
    (keys) => `{${keys.map((k, i) => `"${k}":${k === "__proto__" ? '{"polluted":true}' : JSON.stringify(`v${i}`)}`).join(",")}}`,
  ),
  fc.json(),
  fc.string({ maxLength: 200 }),
);

describe("readJsonBody", () => {
  test("any text is a value the schema accepts or a 400 that does not quote it, and nothing is polluted", async () => {
    await fc.assert(
      fc.asyncProperty(hostileText, async (text) => {
        const got = await outcome(text);
        if (got instanceof HttpError) {
          expect(got.status).toBe(400);
          expect(got.message.length).toBeLessThan(300);
          expect(got.message).not.toContain("[[");
          expect(got.message).not.toContain("yyyyyyyy");
          expect(got.message).not.toContain("polluted");
        } else {
          expect(Value.Check(CreateTenantBody, got.value)).toBe(true);
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  test("nesting beyond the bound is refused by depth, whatever the brackets are inside strings", async () => {
    const deep = await outcome(`{"friendly_name":"x","a":${"[".repeat(33)}${"]".repeat(33)}}`);
    expect(deep).toBeInstanceOf(HttpError);
    expect((deep as HttpError).message).toContain("nested deeper than 32 levels");
    // Brackets and escaped quotes inside a string are text, not nesting.
    const quoted = await outcome(JSON.stringify({ friendly_name: `${"[".repeat(100)}\\"{{{` }));
    expect(quoted).toEqual({ value: { friendly_name: `${"[".repeat(100)}\\"{{{` } });
  });

  test("the problem is named by field and rule", async () => {
    const cases: [string, string][] = [
      ['{"friendly_name":"x","plan":"gold"}', 'invalid body: unknown field "plan"; the fields are id, friendly_name'],
      ['{"friendly_name":"x","__proto__":{}}', 'invalid body: unknown field "__proto__"'],
      ['{"id":"acme"}', "invalid body: friendly_name: Expected required property"],
      ['{"friendly_name":7}', "invalid body: friendly_name: Expected string"],
      ["[1]", "invalid body: expected a JSON object"],
      ["null", "invalid body: expected a JSON object"],
      ["", "the request body is not valid JSON"],
      ["{not json", "the request body is not valid JSON"],
    ];
    for (const [text, message] of cases) {
      const got = await outcome(text);
      expect(got).toBeInstanceOf(HttpError);
      expect((got as HttpError).message).toStartWith(message);
    }
    expect(((await outcome("{}", UpdateTenantBody)) as HttpError).message).toStartWith("invalid body: give at least one of friendly_name");
  });

  test("a body that is not JSON by its type is 415, unread", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", ""]) {
      const err = await readJsonBody(request('{"friendly_name":"x"}', type), CreateTenantBody).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).status).toBe(415);
    }
    expect(await readJsonBody(request('{"friendly_name":"x"}', "Application/JSON; charset=utf-8"), CreateTenantBody)).toEqual({ friendly_name: "x" });
  });
});
