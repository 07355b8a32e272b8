import { expect, test } from "bun:test";
import type { Principal } from "../auth/principal.ts";
import { Answers, type GatewayQuestions, type TokenAnswer } from "./answers.ts";

// Answers is the front door's memory of what the main thread said. The main thread here is a table
// that counts the questions it gets; the subject, Answers, is real.

const principal = (tenant: string): Principal => ({ subject: "u", tenant, via: "organization", permissions: new Set(), isUser: true, claims: {} });

function setup(hosts: Record<string, string | null> = { "acme.localhost": "acme" }) {
  const generation = new Int32Array(new SharedArrayBuffer(4));
  const asked: string[] = [];
  const tokens = new Map<string, TokenAnswer | null>();
  let release: (() => void) | undefined;
  const main: GatewayQuestions = {
    async tenantOf(host) {
      asked.push(`host ${host}`);
      if (release) await new Promise<void>((r) => (release = r));
      return hosts[host] ?? null;
    },
    async principal(authorization) {
      asked.push(`token ${authorization}`);
      return tokens.get(authorization) ?? null;
    },
  };
  const answers = new Answers(generation, main);
  return {
    answers,
    asked,
    tokens,
    hosts,
    bump: () => Atomics.add(generation, 0, 1),
    /** Holds the main thread's host answers until `go()`. */
    hold: () => (release = () => {}),
    go: () => {
      const r = release;
      release = undefined;
      r?.();
    },
  };
}

test("a host is asked once; its answer is kept until the registry's generation moves", async () => {
  const s = setup();
  expect(await s.answers.tenantOf("acme.localhost")).toBe("acme");
  expect(s.answers.tenantOf("acme.localhost")).toBe("acme"); // at once, not a promise
  expect(s.asked).toEqual(["host acme.localhost"]);
  s.hosts["acme.localhost"] = null; // say the tenant was deleted
  s.bump();
  expect(await s.answers.tenantOf("acme.localhost")).toBeUndefined();
  expect(s.answers.tenantOf("acme.localhost")).toBeUndefined(); // the refusal is kept too
  expect(s.asked).toHaveLength(2);
});

test("questions already on their way are not asked again", async () => {
  const s = setup();
  s.hold();
  const all = Promise.all(Array.from({ length: 20 }, () => s.answers.tenantOf("acme.localhost")));
  await Bun.sleep(1);
  s.go();
  expect(await all).toEqual(Array(20).fill("acme"));
  expect(s.asked).toEqual(["host acme.localhost"]);
});

test("an answer given across a generation change is used once and not kept", async () => {
  const s = setup();
  s.hold();
  const pending = s.answers.tenantOf("acme.localhost");
  await Bun.sleep(1);
  s.bump(); // the registry moved while the question was out
  s.go();
  expect(await pending).toBe("acme");
  expect(s.answers.tenantOf("acme.localhost")).toBeInstanceOf(Promise);
  expect(s.asked).toHaveLength(2);
});

test("a token's principal is kept until the token expires or the generation moves", async () => {
  const s = setup();
  s.tokens.set("Bearer good", { principal: principal("acme"), expiresAtMs: Date.now() + 60_000 });
  s.tokens.set("Bearer soon", { principal: principal("acme"), expiresAtMs: Date.now() + 30 });
  expect((await s.answers.principal("Bearer good")).tenant).toBe("acme");
  expect((s.answers.principal("Bearer good") as Principal).tenant).toBe("acme");
  expect(s.asked).toEqual(["token Bearer good"]);

  await s.answers.principal("Bearer soon");
  await Bun.sleep(40);
  s.tokens.delete("Bearer soon"); // expired now: the main thread refuses it
  await expect(s.answers.principal("Bearer soon") as Promise<Principal>).rejects.toThrow("does not verify");

  s.bump();
  expect(s.answers.principal("Bearer good")).toBeInstanceOf(Promise);
});

test("a token that does not verify is refused every time and never kept; no header is not asked about", async () => {
  const s = setup();
  await expect(s.answers.principal("Bearer bad") as Promise<Principal>).rejects.toThrow("does not verify");
  await expect(s.answers.principal("Bearer bad") as Promise<Principal>).rejects.toThrow("does not verify");
  expect(s.asked).toEqual(["token Bearer bad", "token Bearer bad"]);
  expect(() => s.answers.principal(null)).toThrow("401");
  expect(s.asked).toHaveLength(2);
});

test("a flood of made-up hosts keeps the memo bounded", async () => {
  const s = setup();
  for (let i = 0; i < 3000; i++) await s.answers.tenantOf(`h${i}.localhost`);
  // Still answers correctly after starting over.
  expect(await s.answers.tenantOf("acme.localhost")).toBe("acme");
  const hosts = (s.answers as unknown as { hosts: Map<string, unknown> }).hosts;
  expect(hosts.size).toBeLessThanOrEqual(1024);
});
