/**
 * Quality check of the classic recommenders under P1 (`ml-ls-t20`) on ml-latest-small.
 *
 *   node --import tsx bench/recommenders-quality.ts [--variant all|pos4] [--split test|validation]
 *        [--models popularity,itemknn,...] [--set model.key=value ...] [--seeds N]
 *
 * `--split validation` fits on train minus its last 20 % per user and scores the validation part
 * (for tuning); `--split test` (default) fits on train and scores test. Prints one row per model;
 * with `--seeds N` a seeded model is fitted with seeds 0..N−1 and the row gives mean ± sd.
 */
import path from 'node:path';
import { readInteractions } from '../src/data/read-interactions.js';
import { filterByMinValue, P1_SPLIT, splitDataset, validationSplit } from '../src/data/split.js';
import { evaluateRanking } from '../src/eval/ranking.js';
import { isRatingPredictor, ratingErrors } from '../src/eval/rating.js';
import { createRecommender } from '../src/recommenders/registry.js';
import { strArg as arg } from './args.js';
const variant = arg('variant', 'all');
const which = arg('split', 'test');
const models = arg('models', 'popularity,itemknn,userknn,bpr,mf').split(',');
const nSeeds = Number(arg('seeds', '1'));
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
const fmt = (xs: number[], d = 4): string => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length === 1) return mean.toFixed(d);
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  return `${mean.toFixed(d)} ± ${sd.toFixed(d)}`;
};
for (const name of models) {
  const seeded = 'seed' in createRecommender(name, overrides[name]).config;
  const cols: Record<string, number[]> = { ndcg: [], recall: [], precision: [], hr: [], coverage: [], fit: [], rmse: [] };
  for (let seed = 0; seed < (seeded ? nSeeds : 1); seed++) {
    const model = createRecommender(name, { ...overrides[name], ...(seeded && nSeeds > 1 ? { seed } : {}) });
    const t0 = performance.now();
    await model.fit(train);
    cols.fit!.push((performance.now() - t0) / 1000);
    const m = evaluateRanking(model, train, test, { k: 10 }).metrics;
    cols.ndcg!.push(m['ndcg@10']!);
    cols.recall!.push(m['recall@10']!);
    cols.precision!.push(m['precision@10']!);
    cols.hr!.push(m['hr@10']!);
    cols.coverage!.push(m['coverage@10']!);
    if (isRatingPredictor(model)) cols.rmse!.push(ratingErrors(model, test).rmse);
  }
  const label = JSON.stringify(overrides[name] ?? {}) + (seeded ? ` seeds 0..${nSeeds - 1}` : '');
  console.log(
    `| ${name} | ${label} | ${fmt(cols.ndcg!)} | ${fmt(cols.recall!)} | ${fmt(cols.precision!)} | ${fmt(cols.hr!)} | ${fmt(cols.coverage!)} | ${fmt(cols.fit!, 2)} | ${cols.rmse!.length ? fmt(cols.rmse!) : ''} |`,
  );
}
