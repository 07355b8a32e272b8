import { expect, test } from "bun:test";
import { join } from "node:path";

// The boundaries of src/ (.dependency-cruiser.cjs): no module reaches itself, a folder's modules are
// reached from outside through its faces, and no two folders depend on each other, directly or round
// a circle (each root file counts as its own node: root files are the composition and small facts).
const ROOT = join(import.meta.dir, "..");

interface Cruise {
  summary: { violations: { rule: { name: string }; from: string; to: string }[] };
  modules: { source: string; dependencies: { resolved: string }[] }[];
}

async function cruise(): Promise<Cruise> {
  const proc = Bun.spawn([process.execPath, join(ROOT, "node_modules/dependency-cruiser/bin/dependency-cruise.mjs"), "src", "--config", ".dependency-cruiser.cjs", "--output-type", "json"], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text(), await proc.exited];
  if (!out.trim().startsWith("{")) throw new Error(`dependency-cruiser failed (exit ${code}): ${err}`);
  return JSON.parse(out) as Cruise;
}

const nodeOf = (path: string) => /^src\/([^/]+)\//.exec(path)?.[1]?.concat("/") ?? (path.startsWith("src/") ? path : undefined);

/** Folder-level cycles: strongly connected groups of more than one node, with an edge of each. */
export function folderCycles(modules: Cruise["modules"]): string[][] {
  const edges = new Map<string, Map<string, string>>();
  for (const m of modules) {
    const from = nodeOf(m.source);
    for (const d of m.dependencies) {
      const to = nodeOf(d.resolved);
      if (!from || !to || from === to) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      edges.get(from)?.set(to, `${m.source} → ${d.resolved}`);
    }
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v) as number);
    stack.push(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) visit(w);
      if (stack.includes(w)) low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      for (let w = stack.pop(); w !== undefined; w = w === v ? undefined : stack.pop()) group.push(w);
      if (group.length > 1) cycles.push(group.flatMap((a) => [...(edges.get(a) ?? [])].filter(([b]) => group.includes(b)).map(([, why]) => why)));
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

test("src/ keeps its boundaries: no module cycles, other folders through their faces, no folder cycles", async () => {
  const result = await cruise();
  expect(result.modules.length).toBeGreaterThan(50);
  expect(result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  expect(folderCycles(result.modules)).toEqual([]);
}, 60_000);

test("the folder-cycle check finds a cycle when there is one", () => {
  const modules = [
    { source: "src/proxy/a.ts", dependencies: [{ resolved: "src/front/b.ts" }] },
    { source: "src/front/b.ts", dependencies: [{ resolved: "src/proxy/index.ts" }] },
    { source: "src/app.ts", dependencies: [{ resolved: "src/proxy/index.ts" }] },
  ];
  expect(folderCycles(modules)).toHaveLength(1);
  expect(folderCycles(modules.slice(0, 1))).toEqual([]);
});
