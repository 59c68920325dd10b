#!/usr/bin/env node
// The CLI entry: the compiled library (dist/, built by `npm ci` through the prepare script).
import { main } from '../dist/cli/main.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`chorus: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 1; },
);
