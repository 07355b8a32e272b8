// The boundaries of src/, checked in CI by test/architecture.test.ts (or `npm run check:deps`).
// Each folder is one idea whose public face is its index.ts. A few light modules are faces too, for
// the code that must not load a folder's whole face: the AuthHero module and the worker threads
// (measured: the full faces cost the front door's thread about 230 ms and 30 MB more at start).
// Files at the root of src/ are the composition (app.ts, main.ts, …) and small shared facts.
// Folder cycles are checked in the test: dependency-cruiser's rules see modules.
const LEAF_FACES = [
  "^src/storage/files\\.ts$", // the tenant-file layer: the AuthHero module, the fan-out workers
  "^src/storage/libsql\\.ts$", // the libSQL engine: the AuthHero module's namespaces
  "^src/proxy/policy\\.ts$", // the forwarding policy: both transports, the front door's thread
  "^src/proxy/management-path\\.ts$", // how a management path reads: the front door's thread
  "^src/proxy/body-buffer\\.ts$", // request bodies held until whole: the front door's thread
  "^src/proxy/body-budget\\.ts$", // the memory bodies share across threads: the front door's thread
  "^src/tenancy/trusted-proxies\\.ts$", // which peers may name the host: the front door's thread
  "^src/api/request-tally\\.ts$", // the request counts the front door's thread keeps
  "^src/auth/access\\.ts$", // the access rule: the front door's thread
  "^src/auth/token-cache\\.ts$", // the principal cache: the front door's thread
];
const FACES = ["^src/[^/]+/index\\.ts$", ...LEAF_FACES];

module.exports = {
  forbidden: [
    {
      name: "no-module-cycles",
      severity: "error",
      comment: "A module may not reach itself through its imports.",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "through-the-public-face",
      severity: "error",
      comment: "Another folder's modules are reached through its index.ts (or a listed light face) only.",
      from: { path: "^src/([^/]+)/" },
      to: { path: "^src/[^/]+/", pathNot: ["^src/$1/", ...FACES] },
    },
    {
      name: "root-through-the-public-face",
      severity: "error",
      comment: "Files at the root of src/ reach folders through their faces only.",
      from: { path: "^src/[^/]+\\.ts$" },
      to: { path: "^src/[^/]+/", pathNot: FACES },
    },
    {
      name: "code-does-not-import-tests",
      severity: "error",
      from: { path: "^src/", pathNot: "\\.test\\.ts$" },
      to: { path: "(\\.test\\.ts$|^test/)" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.test\\.ts$" },
    // @swc/core reads the sources (TypeScript 7 has no compiler API for dependency-cruiser); it
    // does not tell type-only imports apart, so they count as imports here.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
