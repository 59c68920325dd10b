/**
 * Federated LinUCB against LinUCB trained centrally for the same number of user-steps, in the
 * simulator preset sim-ml-ls-v1 (calibrated on ml-latest-small): mean discounted return and CTR
 * over 1,000 evaluation sessions, averaged over seeds; plus an untrained LinUCB. Run through
 * `node --import tsx bench/federated.ts --part agent [--seeds 3]`.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { buildSetup } from '../src/eval/sim/setup.js';
import { SeedRun, type SeedMetrics } from '../src/eval/sim/runner.js';
import { trainFederatedLinUcb, type FederatedBanditConfig } from '../src/federated/fed-linucb.js';
import { strArg } from './args.js';

const seeds = Array.from({ length: Number(strArg('seeds', '3')) }, (_, i) => i + 1);
const EVAL_SESSIONS = 1000;
const STEPS = 20_000;
const setup = await buildSetup({ preset: 'sim-ml-ls-v1', dataDir: '../shared/datasets/ml-latest-small' });
console.log(`bench/federated.ts --part agent — ${new Date().toISOString()} — ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log(`preset sim-ml-ls-v1, agent linucb (defaults), ${STEPS.toLocaleString('en-US')} training user-steps, ${EVAL_SESSIONS} evaluation sessions, seeds ${seeds.join(', ')}`);
console.log('');
console.log('| setting | return (mean over seeds) | CTR | down MB | up MB | train s |');
console.log('| --- | --- | --- | --- | --- | --- |');

const evalRun = (seed: number, steps: number, load?: ReturnType<typeof trainFederatedLinUcb>): SeedMetrics => {
  const run = new SeedRun(setup, { agent: 'linucb', trainSteps: steps, nEnvs: 16, curvePoints: 1 }, seed);
  run.train(steps);
  if (load) run.agent.load({ ...load.agent.toJSON(), config: run.agent.toJSON().config });
  return run.evaluate(EVAL_SESSIONS);
};

const row = (label: string, ms: SeedMetrics[], seconds: number, down = NaN, up = NaN): void => {
  const mean = (f: (m: SeedMetrics) => number) => ms.reduce((s, m) => s + f(m), 0) / ms.length;
  const mb = (x: number) => (Number.isFinite(x) ? (x / 1e6).toFixed(1) : '—');
  console.log(`| ${label} | ${mean((m) => m.return).toFixed(3)} | ${mean((m) => m.ctr).toFixed(4)} | ${mb(down)} | ${mb(up)} | ${seconds.toFixed(1)} |`);
};

row('untrained', seeds.map((s) => evalRun(s, 0)), 0);
{
  const t0 = performance.now();
  const ms = seeds.map((s) => evalRun(s, STEPS));
  row('centralised', ms, (performance.now() - t0) / 1000 / seeds.length);
}
const variants: [string, Partial<FederatedBanditConfig>][] = [
  ['4 clients × 10 rounds', { clients: 4, rounds: 10, stepsPerRound: STEPS / 40 }],
  ['10 clients × 10 rounds', { clients: 10, rounds: 10, stepsPerRound: STEPS / 100 }],
  ['10 clients × 10 rounds, secure aggregation', { clients: 10, rounds: 10, stepsPerRound: STEPS / 100, secureAgg: true }],
];
for (const [label, cfg] of variants) {
  const t0 = performance.now();
  const fits = seeds.map((seed) => trainFederatedLinUcb(setup, { ...cfg, nEnvs: 16, seed }));
  const seconds = (performance.now() - t0) / 1000 / seeds.length;
  const sum = (f: (r: (typeof fits)[number]['rounds'][number]) => number) => fits[0]!.rounds.reduce((s, r) => s + f(r), 0);
  row(label, fits.map((f, i) => evalRun(seeds[i]!, 0, f)), seconds, sum((r) => r.bytesDown), sum((r) => r.bytesUp));
}
console.log('');
console.log(`load after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
