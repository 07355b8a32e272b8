import { expect, test } from "bun:test";
import { benchArgs } from "./args.ts";

const DEFAULTS = { rounds: 3, tenants: "1000,10000" };

test("defaults, --name value and --name=value; numbers where the default is one", () => {
  expect(benchArgs(DEFAULTS, [])).toEqual({ rounds: 3, tenants: "1000,10000", positionals: [] });
  expect(benchArgs(DEFAULTS, ["fanout", "--rounds", "5", "--tenants=10"])).toEqual({ rounds: 5, tenants: "10", positionals: ["fanout"] });
});

test("an unknown flag or a bad number stops the run", () => {
  expect(() => benchArgs(DEFAULTS, ["--round", "5"])).toThrow("--round");
  expect(() => benchArgs(DEFAULTS, ["--rounds", "five"])).toThrow('--rounds: expected a number, got "five"');
});
