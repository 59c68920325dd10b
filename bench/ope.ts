/**
 * Off-policy evaluation against simulator truth (issue 17): on `sim-ml-ls-v1`, an ε-greedy
 * behaviour (trained for --train user-steps on seeds disjoint from the evaluation seeds, then
 * frozen) logs --decisions first decisions of fresh sessions per seed; each target is estimated
 * from that log and run on-policy on independent sessions for the truth (src/ope/sim-study.ts).
 * Per target and estimator: the mean estimate over seeds, the pooled truth, the relative error of
 * the mean and the mean per-seed relative error, and how many seeds' bootstrap intervals cover the
 * truth.
 *
 *   node --import tsx bench/ope.ts [--decisions 50000] [--seeds 20] [--epsilon 0.2] [--train 20000]
 *        [--bootstrap 500] [--targets greedy,eps0.1,eps0.3,popularity,greedy-als] [--data DIR] [--write]
 *
 * Targets: `greedy` is the frozen behaviour in evaluation mode (ε = 0), `epsX` the frozen
 * behaviour with ε = X; any other name is a registry agent trained on its own (deterministic
 * rankers in evaluation mode). --write replaces the `ope-sim` block of docs/benchmarks.md.
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSimOpe, SIM_OPE_DEFAULT_ESTIMATORS, type SimOpeOptions, type SimOpeResult } from '../src/ope/sim-study.js';
import { numArg, strArg, writeSection } from './args.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');
const decisions = numArg('decisions', 50_000);
const seeds = numArg('seeds', 20);
const epsilon = numArg('epsilon', 0.2);
const trainSteps = numArg('train', 20_000);
const bootstrap = numArg('bootstrap', 500);
const targets = strArg('targets', 'greedy,eps0.1,eps0.3,popularity,greedy-als').split(',');
const dataDir = strArg('data', resolve(ROOT, '..', 'shared', 'datasets', 'ml-latest-small'));
const load0 = loadavg()[0]!;
const t0 = performance.now();

function targetOptions(name: string): Partial<SimOpeOptions> {
  if (name === 'greedy') return { policy: 'egreedy', policyFromBehaviour: true, policyMode: 'evaluation' };
  const m = /^eps([\d.]+)$/.exec(name);
  if (m) return { policy: 'egreedy', policyFromBehaviour: true, policyMode: 'training', policyConfig: { epsilon: Number(m[1]) } };
  return { policy: name };
}

const fmt = (x: number, d = 4): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : 'n/a');
const results: { target: string; r: SimOpeResult; seconds: number }[] = [];
for (const target of targets) {
  const t1 = performance.now();
  const r = await runSimOpe({ preset: 'sim-ml-ls-v1', behaviour: 'egreedy', behaviourConfig: { epsilon }, decisions, seeds, trainSteps, bootstrap, dataDir, ...targetOptions(target) } as SimOpeOptions);
  const seconds = (performance.now() - t1) / 1000;
  results.push({ target, r, seconds });
  process.stderr.write(`${target}: truth ${fmt(r.truth.value)} · ${SIM_OPE_DEFAULT_ESTIMATORS.map((e) => `${e} ${fmt(r.estimates[e]!.value)} (${pct(r.seedRelativeError[e]!)}, cover ${fmt(r.coverage[e]!, 2)})`).join(' · ')} · ${seconds.toFixed(0)} s\n`);
}

const lines: string[] = [];
lines.push(`Command: \`node --import tsx bench/ope.ts --decisions ${decisions} --seeds ${seeds} --epsilon ${epsilon} --train ${trainSteps} --bootstrap ${bootstrap} --targets ${targets.join(',')}\``);
lines.push(`Date 2026-12-06 · load average ${load0.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end · ${((performance.now() - t0) / 1000).toFixed(0)} s wall.`);
lines.push('');
lines.push(`Behaviour: \`egreedy\` (ε = ${epsilon}), trained ${trainSteps} user-steps, frozen; ${decisions} logged first decisions per seed, ${seeds} seeds; truth = the target on-policy over ${decisions} fresh sessions per seed (pooled). Error = mean over seeds of |estimate − truth| / truth; "cover" = seeds whose bootstrap 95 % interval (${bootstrap} resamples) holds the truth.`);
lines.push('');
lines.push(`| target | truth (95 % CI) | logged mean | support | ESS | ${SIM_OPE_DEFAULT_ESTIMATORS.map((e) => `${e}: mean · error · cover`).join(' | ')} |`);
lines.push(`|---|---|---|---|---|${SIM_OPE_DEFAULT_ESTIMATORS.map(() => '---').join('|')}|`);
for (const { target, r } of results) {
  const cells = SIM_OPE_DEFAULT_ESTIMATORS.map((e) => `${fmt(r.estimates[e]!.value)} · ${pct(r.seedRelativeError[e]!)} · ${Math.round(r.coverage[e]! * seeds)}/${seeds}`);
  lines.push(`| ${target} | ${fmt(r.truth.value)} [${fmt(r.truth.ci95[0])}, ${fmt(r.truth.ci95[1])}] | ${fmt(r.loggedMean)} | ${pct(r.support)} | ${r.ess.toFixed(0)} | ${cells.join(' | ')} |`);
}
const body = lines.join('\n');
console.log(body);
if (process.argv.includes('--write')) writeSection(resolve(ROOT, 'docs', 'benchmarks.md'), 'ope-sim', body);
