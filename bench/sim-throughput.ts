/**
 * Simulator throughput: user-steps per second of `VecEnv` on sim-ml-ls-v1 with a trivial agent
 * (each slot shows a random slate drawn from a pre-generated table, so the agent costs ~nothing).
 *
 *   node --import tsx bench/sim-throughput.ts [--data ../shared/datasets/ml-latest-small] [--seconds 3]
 */
import { cpus, loadavg } from 'node:os';
import { buildPreset } from '../src/env/presets.js';
import { VecEnv } from '../src/env/vec-env.js';
import { loadSimData } from '../src/eval/sim/data.js';
import { Rng } from '../src/util/rng.js';

const args = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const dir = flag('data', '../shared/datasets/ml-latest-small');
const seconds = Number(flag('seconds', '3'));

const data = await loadSimData(dir);
const t0 = performance.now();
const { world, config } = buildPreset('sim-ml-ls-v1', data.full, data.train);
const buildS = (performance.now() - t0) / 1000;
const K = config.slateSize;
const rng = new Rng(1);
const TABLE = 4096;
const table = new Int32Array(TABLE * K);
for (let k = 0; k < table.length; k++) table[k] = rng.int(world.nItems);

console.log(`sim-ml-ls-v1 · world build ${buildS.toFixed(2)} s · ${cpus()[0]?.model ?? ''} · load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log('| sessions per VecEnv (n) | user-steps | seconds | CPU s | user-steps/s | user-steps per CPU-s | sessions finished |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const n of [1, 64, 256, 1024]) {
  const env = new VecEnv(world, config, n);
  env.reset(7);
  const slates = new Int32Array(n * K);
  let steps = 0;
  let finished = 0;
  let row = 0;
  // Warm-up so the JIT has compiled the step loop.
  for (let w = 0; w < 200; w++) {
    for (let s = 0; s < n; s++, row = (row + 1) % TABLE) slates.set(table.subarray(row * K, row * K + K), s * K);
    env.step(slates);
  }
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  let now = start;
  while (now - start < seconds * 1000) {
    for (let s = 0; s < n; s++, row = (row + 1) % TABLE) slates.set(table.subarray(row * K, row * K + K), s * K);
    const r = env.step(slates);
    for (let s = 0; s < n; s++) finished += r.done[s]!;
    steps += n;
    now = performance.now();
  }
  const secs = (now - start) / 1000;
  // CPU time beside wall time: on a shared machine the wall clock also counts other processes.
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  console.log(`| ${n} | ${steps.toLocaleString('en-US')} | ${secs.toFixed(2)} | ${cpuS.toFixed(2)} | ${Math.round(steps / secs).toLocaleString('en-US')} | ${Math.round(steps / cpuS).toLocaleString('en-US')} | ${finished.toLocaleString('en-US')} |`);
}
console.log(`load after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
