// The npm registry reachable here lacks most of rollup's per-platform optional packages (404),
// so `npm install` leaves them out of package-lock.json and `npm ci` then refuses the lock as
// "out of sync". This adds an entry for each missing optional platform package, restricted by
// os/cpu/libc so that npm never tries to fetch it on a machine it is not for.
// Usage: node .ci/fix-lock.mjs  (after any `npm install` that rewrites the lock)
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const pkgs = lock.packages;
let added = 0;
for (const [path, entry] of Object.entries(pkgs)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (pkgs[key] || pkgs[`${path}/${key}`]) continue;
    const m = /^@rollup\/rollup-([a-z0-9]+)-([a-z0-9]+)(?:-([a-z]+))?$/.exec(name);
    if (!m) continue;
    const [, os, cpuRaw, abi] = m;
    const cpu = cpuRaw === 'arm' ? 'arm' : cpuRaw;
    const extra = {};
    if (abi?.startsWith('gnu')) extra.libc = ['glibc'];
    if (abi?.startsWith('musl')) extra.libc = ['musl'];
    pkgs[key] = { version, dev: entry.dev, optional: true, os: [os], cpu: [cpu], ...extra };
    added++;
  }
}
// Keep keys sorted as npm writes them.
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
console.log(`fix-lock: added ${added} optional platform entries`);
