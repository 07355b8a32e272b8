import { expect, test } from "bun:test";
import { HttpError } from "../http-error.ts";
import { assertChildTenantId, isFileTenantId, tenantIdProblem } from "./tenant-id.ts";

const reserved = new Set(["www", "api"]);

test.each(["acme", "a", "a1", "1a", "a-b", "a--b", "0", "x".repeat(63)])("%p is a valid child tenant id", (id) => {
  expect(tenantIdProblem(id, reserved, "control_plane")).toBeNull();
});

test.each([
  ["", "required"],
  [undefined, "required"],
  [42, "required"],
  ["x".repeat(64), "64 characters"],
  ["ACME", "not a DNS label"],
  ["a.b", "not a DNS label"],
  ["a/b", "not a DNS label"],
  ["..", "not a DNS label"],
  ["../etc", "not a DNS label"],
  ["%2e%2e", "not a DNS label"],
  ["-a", "not a DNS label"],
  ["a-", "not a DNS label"],
  ["a_b", "not a DNS label"],
  ["ümlaut", "not a DNS label"],
  ["a\u0000b", "not a DNS label"],
  [" a", "not a DNS label"],
  ["www", "reserved"],
  ["control_plane", "control plane"],
])("%p is refused (%s)", (id, fragment) => {
  expect(tenantIdProblem(id, reserved, "control_plane")).toContain(fragment);
  expect(() => assertChildTenantId(id, reserved, "control_plane")).toThrow(HttpError);
});

test("control characters are not echoed back", () => {
  expect(tenantIdProblem("a\u0007b", reserved, "control_plane")).not.toContain("\u0007");
});

test("the control plane's own id may name a file; nothing path-like may", () => {
  expect(isFileTenantId("control_plane", "control_plane")).toBe(true);
  expect(isFileTenantId("acme", "control_plane")).toBe(true);
  for (const bad of ["../x", "a/b", ".hidden", "x.sqlite", ""]) expect(isFileTenantId(bad, "control_plane")).toBe(false);
});
