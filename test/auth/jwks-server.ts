// A real JWKS endpoint on a loopback port that counts how often the verifier fetches it.
import type { JSONWebKeySet } from "jose";

export type JwksAnswer = JSONWebKeySet | ((req: Request) => Response | Promise<Response>);

export interface JwksServer {
  readonly url: string;
  readonly hits: number;
  answer(with_: JwksAnswer): void;
  stop(): Promise<void>;
}

export function startJwksServer(initial: JwksAnswer): JwksServer {
  let answer = initial;
  let hits = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      hits++;
      return typeof answer === "function" ? answer(req) : Response.json(answer);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/.well-known/jwks.json`,
    get hits() {
      return hits;
    },
    answer(next) {
      answer = next;
    },
    stop: () => server.stop(true),
  };
}

/** A URL on which nothing listens: a port that was just bound and released. */
export async function closedUrl(): Promise<string> {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const url = `http://127.0.0.1:${server.port}/.well-known/jwks.json`;
  await server.stop(true);
  return url;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
