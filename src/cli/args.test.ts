import { expect, test } from "bun:test";
import { takeFlags } from "./args.ts";

const KINDS = { org: "value", "friendly-name": "value", purge: "switch" } as const;
const take = (argv: string[]) => {
  const { flags, rest } = takeFlags(argv, KINDS);
  return { flags: Object.fromEntries(flags), rest };
};

test("a command's flags come out anywhere; every other argument stays as written, for the gateway options", () => {
  expect(take(["delete", "--port", "80", "acme", "--purge", "--data-dir=/x", "-5", "--org", "o", "--friendly-name=Beta Corp", "--dev"])).toEqual({
    flags: { purge: true, org: "o", "friendly-name": "Beta Corp" },
    rest: ["delete", "--port", "80", "acme", "--data-dir=/x", "-5", "--dev"],
  });
});

test("a value flag needs its value; one starting with -- goes after =", () => {
  expect(() => take(["--org", "--dev"])).toThrow("--org needs a value");
  expect(() => take(["--org"])).toThrow("--org needs a value");
  expect(take(["--org=--x"]).flags).toEqual({ org: "--x" });
});

test("a switch reads true and false as the gateway options do; the last mention counts", () => {
  for (const on of [["--purge"], ["--purge=yes"], ["--purge=TRUE"], ["--purge="], ["--no-purge", "--purge"]]) expect(take(on).flags, on.join(" ")).toEqual({ purge: true });
  for (const off of [["--purge=false"], ["--purge=off"], ["--no-purge"], ["--purge", "--purge=0"]]) expect(take(off).flags, off.join(" ")).toEqual({});
  expect(() => take(["--purge=maybe"])).toThrow('--purge takes no value, or true/false; got "maybe"');
});

test("after -- nothing is a flag", () => {
  expect(take(["--", "--purge"])).toEqual({ flags: {}, rest: ["--", "--purge"] });
});
