#!/usr/bin/env node
/**
 * Builds the nn kernel addon (chorus_nn.node) with node-gyp from plain C — no npm dependency and
 * no system library. Meant to run from the package's install script; it never fails the install:
 * when no compiler is there, Chorus uses its pure-JS kernels (src/nn/kernels.ts) instead.
 *
 * node-gyp comes from npm itself (npm_config_node_gyp under npm, else npm's bundled copy next to
 * this node). Node's headers are taken from this node's own install prefix when present, so no
 * download from nodejs.org is needed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const prefix = dirname(dirname(process.execPath));
const candidates = [
  process.env.npm_config_node_gyp,
  join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  join(prefix, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter((p) => p && existsSync(p));

if (process.env.CHORUS_NN_BACKEND === 'js') {
  console.log('chorus nn: CHORUS_NN_BACKEND=js, skipping the native kernel build');
  process.exit(0);
}
if (candidates.length === 0) {
  console.warn('chorus nn: node-gyp not found; using the pure-JS kernels');
  process.exit(0);
}
const args = [candidates[0], 'rebuild', '-C', here];
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
const r = spawnSync(process.execPath, args, { stdio: process.env.CHORUS_NN_VERBOSE ? 'inherit' : 'pipe', encoding: 'utf8' });
if (r.status === 0) {
  console.log('chorus nn: built native kernels (src/nn/native/build/Release/chorus_nn.node)');
} else {
  const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-5).join('\n');
  console.warn(`chorus nn: native kernel build failed; using the pure-JS kernels (about 20× slower training)\n${tail}`);
}
process.exit(0);
