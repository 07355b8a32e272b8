#!/usr/bin/env bun
import { runCli } from "./cli/index.ts";

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`tenantgate: ${err.message}`);
    process.exit(2);
  },
);
