#!/usr/bin/env node
// The CLI entry: the compiled library (dist/, built by `npm ci` through the prepare script).
let main;
try {
  ({ main } = await import('../dist/cli/main.js'));
} catch (err) {
  const missing = err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js');
  console.error(missing ? 'chorus: the package is not built (no dist/); run `npm run build` or `npm ci`' : `chorus: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

// `chorus … | head` closes the pipe early: stop quietly instead of an EPIPE stack trace.
process.stdout.on('error', (err) => {
  if (err && err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`chorus: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 1; },
);
