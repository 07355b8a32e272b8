import { expect, test } from "bun:test";
import { readBoolean } from "./boolean.ts";

test.each(["1", "true", "yes", "on", "", "TRUE", " Yes ", "On"])("%p is true", (text) => {
  expect(readBoolean(text)).toBe(true);
});

test.each(["0", "false", "no", "off", "FALSE", " off ", "No"])("%p is false", (text) => {
  expect(readBoolean(text)).toBe(false);
});

test.each(["maybe", "2", "y", "n", "enabled", "t", "-1"])("%p is neither", (text) => {
  expect(readBoolean(text)).toBeUndefined();
});
