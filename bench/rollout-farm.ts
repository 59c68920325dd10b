/**
 * Simulation seeds over NATS JetStream (src/eval/sim/rollout-farm.ts): wall time of one
 * `runSimulation` with its seeds on 1, 2 and 4 `chorus worker` processes, beside the in-process
 * runs (1 and 2 threads) on the same seeds, and whether every run gives the in-process numbers.
 * Workers are started (and warmed: one throw-away seed each, so that the table times rollouts, not
 * their start-up) before each timed run and stopped after it.
 *
 *   node --import tsx bench/rollout-farm.ts [--bus nats://127.0.0.1:4222] [--agent linucb]
 *        [--seeds 8] [--steps 5000] [--eval 300] [--workers 1,2,4] [--write]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { runSimulation, type SimulationOptions, type SimulationResult } from '../src/eval/sim/simulate.js';
import { numArg, strArg, writeSection } from './args.js';

const BUS = strArg('bus', 'nats://127.0.0.1:4222');
const seeds = numArg('seeds', 8);
const base: SimulationOptions = {
  preset: 'sim-ml-ls-v1',
  dataDir: resolve('../shared/datasets/ml-latest-small'),
  agent: strArg('agent', 'linucb'),
  trainSteps: numArg('steps', 5000),
  seeds,
  evalSessions: numArg('eval', 300),
};
const counts = strArg('workers', '1,2,4').split(',').map(Number);
const CLI = resolve('test/eval/fixtures/chorus-cli.ts');

function startWorkers(n: number, queue: string): Promise<ChildProcess[]> {
  return Promise.all(
    Array.from({ length: n }, () => {
      const p = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker', '--bus', BUS, '--queue', queue], { stdio: ['ignore', 'ignore', 'pipe'] });
      return new Promise<ChildProcess>((ok, fail) => {
        let log = '';
        p.stderr!.on('data', (b: Buffer) => {
          log += b.toString();
          if (/waiting for tasks/.test(log)) ok(p);
        });
        p.once('exit', (c) => fail(new Error(`worker exited (${c}): ${log}`)));
      });
    }),
  );
}

const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const key = (r: SimulationResult) => JSON.stringify(r.perSeed.map(({ trainSeconds: _a, evalSeconds: _b, ...m }) => m));

const rows: string[] = [];
const load0 = loadavg();
const t = (x: number) => x.toFixed(1);
let reference = '';
let referenceWall = 0;
for (const threads of [1, 2]) {
  const t0 = performance.now();
  const r = await runSimulation({ ...base, workers: threads });
  const wall = (performance.now() - t0) / 1000;
  if (threads === 1) {
    reference = key(r);
    referenceWall = wall;
  }
  rows.push(`| in process, ${threads} thread${threads > 1 ? 's' : ''} | ${t(wall)} | ${t((60 * seeds) / wall)} | ${(referenceWall / wall).toFixed(2)}× | ${key(r) === reference ? 'yes' : 'NO'} | ${r.return.mean.toFixed(4)} |`);
  process.stderr.write(`${rows.at(-1)}\n`);
}
for (const n of counts) {
  const queue = `bench-${randomUUID()}`;
  const procs = await startWorkers(n, queue);
  try {
    // Warm-up: every worker builds its world once (the setup is cached per process thread).
    await runSimulation({ ...base, seeds: n, firstSeed: 1000, trainSteps: 0, evalSessions: 1, bus: BUS, queue });
    const t0 = performance.now();
    const r = await runSimulation({ ...base, bus: BUS, queue });
    const wall = (performance.now() - t0) / 1000;
    rows.push(`| ${n} worker process${n > 1 ? 'es' : ''} over NATS | ${t(wall)} | ${t((60 * seeds) / wall)} | ${(referenceWall / wall).toFixed(2)}× | ${key(r) === reference ? 'yes' : 'NO'} | ${r.return.mean.toFixed(4)} |`);
    process.stderr.write(`${rows.at(-1)}\n`);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
  }
}
const head = `Preset ${base.preset} (ml-latest-small), agent ${base.agent}, ${seeds} seeds × ${base.trainSteps} training steps + ${base.evalSessions} evaluation sessions; NATS ${BUS} on this host; workers warmed up (one throw-away seed each) before the timed run. Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}; load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${loadavg().map((x) => x.toFixed(2)).join(' ')}.
Command: \`node --import tsx bench/rollout-farm.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).filter((a) => a !== '--write').join(' ')}` : ''}\` — ${new Date().toISOString()}.

| run | wall s | seeds / min | speed-up vs 1 thread | same numbers as in process | mean return |
| --- | ---: | ---: | ---: | --- | ---: |
${rows.join('\n')}`;
process.stdout.write(`${head}\n(coordinator CPU ${t(cpu())} s)\n`);
if (process.argv.includes('--write')) writeSection('docs/benchmarks.md', 'rollout-farm', head);
