/**
 * Quality check of the classic recommenders under P1 (`ml-ls-t20`) on ml-latest-small.
 *
 *   node --import tsx bench/recommenders-quality.ts [--variant all|pos4] [--split test|validation]
 *        [--models popularity,itemknn,...] [--set model.key=value ...]
 *
 * `--split validation` fits on train minus its last 20 % per user and scores the validation part
 * (for tuning); `--split test` (default) fits on train and scores test. Prints one row per model.
 */
import path from 'node:path';
import { readInteractions } from '../src/data/read-interactions.js';
import { filterByMinValue, P1_SPLIT, splitDataset, validationSplit } from '../src/data/split.js';
import { evaluateRanking } from '../src/eval/ranking.js';
import { ratingErrors } from '../src/eval/rating.js';
import { createRecommender } from '../src/recommenders/registry.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const variant = arg('variant', 'all');
const which = arg('split', 'test');
const models = arg('models', 'popularity,itemknn,userknn,bpr,mf').split(',');
const overrides: Record<string, Record<string, unknown>> = {};
process.argv.forEach((a, i) => {
  if (a !== '--set') return;
  const [lhs, rhs] = process.argv[i + 1]!.split('=');
  const [m, key] = lhs!.split('.');
  const v = rhs === 'true' ? true : rhs === 'false' ? false : Number.isNaN(Number(rhs)) ? rhs : Number(rhs);
  (overrides[m!] ??= {})[key!] = v;
});

const file = path.resolve(process.cwd(), '../shared/datasets/ml-latest-small/ratings.csv');
const { dataset } = await readInteractions(file);
const ds = variant === 'pos4' ? filterByMinValue(dataset, 4) : dataset;
const split = splitDataset(ds, P1_SPLIT);
let train = split.train;
let test = split.test;
if (which === 'validation') {
  const v = validationSplit(split.train, P1_SPLIT);
  train = v.train;
  test = v.validation;
}
console.log(`protocol ml-ls-t20 variant ${variant} split ${which}: train ${train.nInteractions}, eval ${test.nInteractions}; load ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log('| model | config | NDCG@10 | Recall@10 | P@10 | HR@10 | cov@10 | fit s | RMSE |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const name of models) {
  const model = createRecommender(name, overrides[name]);
  const t0 = performance.now();
  await model.fit(train);
  const fitS = (performance.now() - t0) / 1000;
  const r = evaluateRanking(model, train, test, { k: 10 });
  const m = r.metrics;
  const rmse = 'predict' in model ? ratingErrors(model as unknown as { predict(u: number, i: number): number }, test).rmse.toFixed(4) : '';
  console.log(
    `| ${name} | ${JSON.stringify(overrides[name] ?? {})} | ${m['ndcg@10']!.toFixed(4)} | ${m['recall@10']!.toFixed(4)} | ${m['precision@10']!.toFixed(4)} | ${m['hr@10']!.toFixed(4)} | ${m['coverage@10']!.toFixed(4)} | ${fitS.toFixed(2)} | ${rmse} |`,
  );
}
