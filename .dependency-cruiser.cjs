// The boundaries of src/ (checked in CI by test/architecture.test.ts, or `npm run check:deps`):
// each folder is one idea whose public face is its index.ts, and folders do not depend on each other
// in a circle (the folder-level check is in the test: dependency-cruiser's own rules see modules).
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
      comment: "Another folder's modules are reached through its index.ts only.",
      from: { path: "^src/([^/]+)/" },
      to: { path: "^src/[^/]+/", pathNot: ["^src/$1/", "^src/[^/]+/index\\.ts$"] },
    },
    {
      name: "root-through-the-public-face",
      severity: "error",
      comment: "Files at the root of src/ reach folders through their index.ts only.",
      from: { path: "^src/[^/]+\\.ts$" },
      to: { path: "^src/[^/]+/", pathNot: "^src/[^/]+/index\\.ts$" },
    },
    {
      name: "no-tests-in-src-imports",
      severity: "error",
      comment: "Code does not import tests.",
      from: { path: "^src/", pathNot: "\\.test\\.ts$" },
      to: { path: "(\\.test\\.ts$|^test/)" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.test\\.ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    moduleSystems: ["es6"],
  },
};
