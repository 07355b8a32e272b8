import { describe, expect, test } from "bun:test";
import { HttpError } from "../http-error.ts";
import { normalizeHost, resolveHost, type HostRules } from "./resolve-tenant.ts";

const rules = (base: string, domains: Record<string, string> = {}): HostRules => ({
  baseDomain: base,
  reserved: new Set(["www", "api", "admin", "app", "auth", "static", "control-plane"]),
  customDomain: (h) => domains[h],
});

describe("normalizeHost", () => {
  test.each([
    ["acme.auth.example.com", "acme.auth.example.com"],
    ["ACME.Auth.Example.COM", "acme.auth.example.com"],
    ["acme.localhost:8080", "acme.localhost"],
    ["acme.localhost.", "acme.localhost"],
    ["acme.localhost.:443", "acme.localhost"],
    ["  acme.localhost  ", "acme.localhost"],
    ["[::1]:8080", "[::1]"],
    ["127.0.0.1:8080", "127.0.0.1"],
  ])("%p → %p", (raw, want) => {
    expect(normalizeHost(raw)).toBe(want);
  });

  test.each([
    [null, "no Host header"],
    ["", "no Host header"],
    ["acme.localhost:99999", "malformed port"],
    ["acme.localhost:", "malformed port"],
    ["acme.localhost:80:80", "malformed"],
    ["ac me.localhost", "malformed"],
    ["ac/me.localhost", "malformed"],
    ["user@acme.localhost", "malformed"],
    ["acme..localhost", "malformed"],
    [".localhost", "malformed"],
    ["ümlaut.localhost", "malformed"],
    ["ac_me.localhost", "malformed"],
    ["a".repeat(254), "malformed"],
  ])("%p is refused with 400 (%s)", (raw, fragment) => {
    try {
      normalizeHost(raw);
      throw new Error("accepted");
    } catch (err) {
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).status).toBe(400);
      expect((err as HttpError).message).toContain(fragment);
    }
  });
});

describe("resolveHost", () => {
  const base = rules("auth.example.com", { "login.acme.com": "acme" });
  test.each([
    ["auth.example.com", { kind: "control-plane" }],
    ["www.auth.example.com", { kind: "control-plane" }],
    ["control-plane.auth.example.com", { kind: "control-plane" }],
    ["acme.auth.example.com", { kind: "tenant", id: "acme", via: "subdomain" }],
    ["a-1.auth.example.com", { kind: "tenant", id: "a-1", via: "subdomain" }],
    ["login.acme.com", { kind: "tenant", id: "acme", via: "custom-domain" }],
    // Dot boundary: xauth.example.com is not under auth.example.com.
    ["xauth.example.com", { kind: "unknown", host: "xauth.example.com" }],
    // One label only.
    ["a.b.auth.example.com", { kind: "unknown", host: "a.b.auth.example.com" }],
    // Not a DNS label (leading hyphen).
    ["-acme.auth.example.com", { kind: "unknown", host: "-acme.auth.example.com" }],
    ["example.com", { kind: "unknown", host: "example.com" }],
    ["127.0.0.1", { kind: "unknown", host: "127.0.0.1" }],
  ])("%p", (host, want) => {
    expect(resolveHost(host, base)).toEqual(want as never);
  });

  test("a 63-character label routes and a 64-character one does not", () => {
    const ok = "a".repeat(63);
    expect(resolveHost(`${ok}.localhost`, rules("localhost"))).toEqual({ kind: "tenant", id: ok, via: "subdomain" });
    expect(resolveHost(`${ok}a.localhost`, rules("localhost")).kind).toBe("unknown");
  });

  test("the subdomain wins over a custom domain that shadows it", () => {
    expect(resolveHost("acme.localhost", rules("localhost", { "acme.localhost": "other" }))).toEqual({ kind: "tenant", id: "acme", via: "subdomain" });
  });
});
