import { expect, test } from "bun:test";
import { matchesPrefix, pathReadings, prefixSegments } from "./management-path.ts";

test.each([
  ["/api/v2/roles/rol_1", [["api", "v2", "roles", "rol_1"]]],
  ["//api//v2//roles//rol_1//", [["api", "v2", "roles", "rol_1"]]],
  ["/api/v2/./roles/x/../rol_1", [["api", "v2", "roles", "rol_1"]]],
  ["/api\\v2\\roles", [["api", "v2", "roles"]]],
  ["/%61pi/v2", [["api", "v2"]]],
  // %2F stays inside a segment for a router that splits first, and splits for one that decodes first.
  ["/api/v2/roles%2Frol_1", [["api", "v2", "roles/rol_1"], ["api", "v2", "roles", "rol_1"]]],
  ["/api/v2/resource-servers/https:%2F%2Fx.example%2F", [["api", "v2", "resource-servers", "https://x.example/"], ["api", "v2", "resource-servers", "https:", "x.example"]]],
  // Double encoding: one reading decodes once, the other until stable.
  ["/api/v2/%2572oles", [["api", "v2", "%72oles"], ["api", "v2", "roles"]]],
  // A broken escape is kept as it is.
  ["/api/v2/%zz", [["api", "v2", "%zz"]]],
])("%p reads as %p", (path, readings) => {
  expect(pathReadings(path)).toEqual(readings);
});

test("prefixes match any reading, case-insensitively", () => {
  const prefixes = [prefixSegments("/api/v2/")];
  expect(matchesPrefix(pathReadings("/API/V2/users"), prefixes)).toBe(true);
  expect(matchesPrefix(pathReadings("/api%2Fv2/users"), prefixes)).toBe(true);
  expect(matchesPrefix(pathReadings("/api/v2"), prefixes)).toBe(true);
  expect(matchesPrefix(pathReadings("/api/v22/users"), prefixes)).toBe(false);
  expect(matchesPrefix(pathReadings("/authorize"), prefixes)).toBe(false);
  expect(matchesPrefix(pathReadings("/u/api/v2"), prefixes)).toBe(false);
});
