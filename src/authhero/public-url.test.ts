import { expect, test } from "bun:test";
import { publicIssuer } from "./index.ts";

const at = (headers: Record<string, string>) => publicIssuer(new Request("http://127.0.0.1:3000/.well-known/openid-configuration", { headers }), "http://localhost:8080/");

test("the issuer is the public URL tenantgate forwarded; anything else is the fallback", () => {
  expect(at({ "x-forwarded-host": "acme.localhost:8080", "x-forwarded-proto": "http" })).toBe("http://acme.localhost:8080/");
  expect(at({ "x-forwarded-host": "Acme.Auth.Example.com", "x-forwarded-proto": "https" })).toBe("https://acme.auth.example.com/");
  for (const headers of [{} as Record<string, string>, { "x-forwarded-host": "acme.localhost:8080" }, { "x-forwarded-host": "evil.example/x", "x-forwarded-proto": "http" }, { "x-forwarded-host": "a@b", "x-forwarded-proto": "http" }, { "x-forwarded-host": "acme.localhost", "x-forwarded-proto": "javascript" }]) {
    expect(at(headers)).toBe("http://localhost:8080/");
  }
});
