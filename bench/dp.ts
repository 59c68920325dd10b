/**
 * Differential privacy under P1 (`ml-ls-t20`, variant `all`): NDCG@10 with its 95 % bootstrap
 * interval against the budget ε for each model with a DP path, and the ratio to the same model
 * trained without DP (ε = ∞). δ = 1/n (n = training users) unless `--delta` is given.
 *
 *   node --import tsx bench/dp.ts [--models bpr,popularity,itemknn,ease,mf] [--eps 0.5,1,2,4,8]
 *        [--split test|validation] [--bootstrap 1000] [--set bpr.factors=32 ...] [--delta δ]
 *        [--dp '{"unit":"interaction"}']   (more fields of every model's `dp` option)
 *
 * Tune on `--split validation` (cut from train by P1's rule), report `--split test`.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { runProtocol, type ProtocolResult } from '../src/eval/index.js';
import { strArg } from './args.js';

const models = strArg('models', 'bpr,popularity,itemknn,ease,mf').split(',');
const epsilons = strArg('eps', '0.5,1,2,4,8').split(',').map(Number);
const split = strArg('split', 'test') as 'test' | 'validation';
const bootstrap = Number(strArg('bootstrap', '1000'));
const delta = strArg('delta');
/** Extra fields of the `dp` option (e.g. the unit, or a schedule to try on validation). */
const dpExtra = JSON.parse(strArg('dp', '{}')) as Record<string, unknown>;
/** Hyper-parameters shared by the private and the non-private run of a model (`--set model.key=value`). */
const overrides: Record<string, Record<string, unknown>> = {};
process.argv.forEach((a, i) => {
  if (a !== '--set') return;
  const [lhs, rhs] = process.argv[i + 1]!.split('=');
  const [m, key] = lhs!.split('.');
  (overrides[m!] ??= {})[key!] = Number.isNaN(Number(rhs)) ? rhs : Number(rhs);
});

const load = readFileSync('/proc/loadavg', 'utf8').trim();
console.log(`bench/dp.ts — ${new Date().toISOString()} — ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, load ${load}`);
console.log(`protocol ml-ls-t20 variant all split ${split}, K 10, seed 0, bootstrap ${bootstrap}; δ ${delta ?? '1/n'}; shared hyper-parameters ${JSON.stringify(overrides)}; dp ${JSON.stringify(dpExtra)}`);
console.log('');
console.log('| model | unit | ε | NDCG@10 [95 % CI] | × non-private | δ | noise multiplier | fit s |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');

const ci = (r: ProtocolResult): string => {
  const iv = r.intervals?.['ndcg@10'];
  return `${r.metrics['ndcg@10']!.toFixed(4)}${iv ? ` [${iv.lo.toFixed(3)}, ${iv.hi.toFixed(3)}]` : ''}`;
};

for (const model of models) {
  const base = overrides[model] ?? {};
  const run = (dp?: Record<string, unknown>): Promise<ProtocolResult> =>
    runProtocol({ protocol: 'ml-ls-t20', variant: 'all', model, modelConfig: dp ? { ...base, dp } : base, split, bootstrap, perUser: false });
  const plain = await run();
  const ref = plain.metrics['ndcg@10']!;
  for (const eps of epsilons) {
    const r = await run({ ...dpExtra, epsilon: eps, ...(delta ? { delta: Number(delta) } : {}) });
    const p = r.privacy!;
    console.log(`| ${model} | ${p.unit} | ${eps} | ${ci(r)} | ${(r.metrics['ndcg@10']! / ref).toFixed(2)} | ${p.delta.toPrecision(3)} | ${p.noiseMultiplier.toFixed(3)} | ${r.fitSeconds.toFixed(1)} |`);
  }
  console.log(`| ${model} | — | ∞ (no DP) | ${ci(plain)} | 1.00 | — | — | ${plain.fitSeconds.toFixed(1)} |`);
}
