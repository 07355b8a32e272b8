import { describe, expect, test } from "bun:test";
import { readArgs, type ArgKind } from "./argv.ts";

const KINDS: Record<string, ArgKind> = { port: "value", issuer: "value", dev: "switch", config: "file" };
const read = (argv: string[]) => readArgs(argv, KINDS);
const given = (argv: string[]) => read(argv).options.map((o) => [o.name, o.text, o.known] as const);

describe("values", () => {
  test("--name value and --name=value", () => {
    expect(given(["--port", "80", "--issuer=https://a/"])).toEqual([
      ["port", "80", true],
      ["issuer", "https://a/", true],
    ]);
  });

  test("a next argument starting with -- is not a value: --port --dev is --port without one, then --dev", () => {
    expect(given(["--port", "--dev"])).toEqual([
      ["port", undefined, true],
      ["dev", undefined, true],
    ]);
    expect(given(["--port", "--", "--dev"])).toEqual([["port", undefined, true]]);
    expect(read(["--port", "--", "--dev"]).positionals).toEqual(["--dev"]);
  });

  test("after = anything is the value, and a single dash is a value", () => {
    expect(given(["--port=--x", "--issuer", "-5", "--port="])).toEqual([
      ["port", "--x", true],
      ["issuer", "-5", true],
      ["port", "", true],
    ]);
  });

  test("at the end, a value option has none", () => {
    expect(given(["--port"])).toEqual([["port", undefined, true]]);
  });

  test("a repeated option is given twice, in order", () => {
    expect(given(["--issuer", "a", "--issuer=b"])).toEqual([
      ["issuer", "a", true],
      ["issuer", "b", true],
    ]);
  });

  test("a file option takes the next argument whatever it looks like", () => {
    expect(given(["--config", "--dev"])).toEqual([["config", "--dev", true]]);
    expect(given(["--config"])).toEqual([["config", undefined, true]]);
  });
});

describe("switches", () => {
  test("a switch takes no next argument, only a value after =", () => {
    expect(given(["--dev", "yes", "--dev=no"])).toEqual([
      ["dev", undefined, true],
      ["dev", "no", true],
    ]);
    expect(read(["--dev", "yes"]).positionals).toEqual(["yes"]);
  });

  test("--no-<switch> is <switch>=false, whatever follows =; --no-<value option> is unknown", () => {
    expect(given(["--no-dev", "--no-dev=yes", "--no-port", "--no-"])).toEqual([
      ["dev", "false", true],
      ["dev", "false", true],
      ["no-port", undefined, false],
      ["no-", undefined, false],
    ]);
  });
});

describe("everything else", () => {
  test("an unknown option takes a value only after =", () => {
    expect(given(["--prot", "80", "--prot=81", "--=x", "---x"])).toEqual([
      ["prot", undefined, false],
      ["prot", "81", false],
      ["", "x", false],
      ["-x", undefined, false],
    ]);
    expect(read(["--prot", "80"]).positionals).toEqual(["80"]);
  });

  test("names are not looked up on Object.prototype", () => {
    expect(given(["--constructor", "x", "--toString"])).toEqual([
      ["constructor", undefined, false],
      ["toString", undefined, false],
    ]);
  });

  test("single-dash arguments are positional, as they were written", () => {
    expect(read(["-x", "-abc", "-5", "-", "acme"])).toEqual({ options: [], positionals: ["-x", "-abc", "-5", "-", "acme"] });
  });

  test("-- ends the options", () => {
    expect(read(["a", "--dev", "--", "--port", "80", "--"])).toEqual({
      options: [{ name: "dev", text: undefined, known: true, at: [1] }],
      positionals: ["a", "--port", "80", "--"],
    });
  });

  test("each option says where in argv it was read from", () => {
    expect(read(["x", "--port", "80", "--dev", "--port=81", "--issuer", "--dev"]).options.map((o) => o.at)).toEqual([[1, 2], [3], [4], [5], [6]]);
  });
});
