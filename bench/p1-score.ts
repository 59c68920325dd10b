/**
 * Fit and scoring time of one model on a P1 (`ml-ls-t20`) variant: fit seconds (wall and CPU), then
 * `rounds` full-catalogue evaluations of every test user (scoring, masking, top-10 and every metric:
 * what `bench/p1.ts` reports as "eval s"), each with wall and CPU seconds, and the NDCG@10.
 *
 *   node --import tsx bench/p1-score.ts [--model hybrid-seq] [--variant all] [--config JSON] \
 *     [--save FILE | --load FILE] [--rounds 3] [--lists FILE] [--compare FILE]
 *
 * `--save` writes the fitted model (src/recommenders/persist.ts, the format `chorus train` writes) so
 * that a later `--load` scores the same model without refitting. `--lists FILE` writes every test
 * user's top-10 items and their scores (JSON); `--compare FILE` checks this run's lists against
 * such a file: the same items in the same order, and the largest score difference (a scoring-speed
 * change must keep the rankings).
 * The model gets the protocol's seed 0 as `bench/p1.ts` gives it (unless the config sets one).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadP1, type P1Variant } from '../src/eval/p1.js';
import { createEvalModel, modelTakesSeed } from '../src/eval/models.js';
import { evaluateRanking } from '../src/eval/ranking.js';
import { cpuSecondsSince } from '../src/eval/run.js';
import { loadModel, saveModel } from '../src/recommenders/persist.js';
import type { Recommender } from '../src/recommenders/types.js';
import { numArg, strArg } from './args.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');
const DATA = process.env.CHORUS_DATA ?? resolve(ROOT, '..', 'shared', 'datasets', 'ml-latest-small');

const modelName = strArg('model', 'hybrid-seq');
const variant = strArg('variant', 'all') as P1Variant;
const config = JSON.parse(strArg('config', '{}')) as Record<string, unknown>;
const rounds = numArg('rounds', 3);
const loadFrom = strArg('load');
const saveTo = strArg('save');
const listsTo = strArg('lists');
const compareWith = strArg('compare');

const data = await loadP1(DATA, variant);
let model: Recommender;
if (loadFrom) {
  const t0 = performance.now();
  model = await loadModel(loadFrom);
  console.log(`loaded ${model.kind} from ${loadFrom} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
} else {
  if (config.seed === undefined && modelTakesSeed(modelName)) config.seed = 0;
  model = createEvalModel(modelName, config);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await model.fit(data.train);
  console.log(`fit ${modelName} on P1 ${variant}: ${((performance.now() - t0) / 1000).toFixed(1)} s wall, ${cpuSecondsSince(c0).toFixed(1)} CPU s`);
  if (saveTo) await saveModel(model, saveTo);
}

let lists: Int32Array = new Int32Array(0);
let users: Int32Array = new Int32Array(0);
for (let r = 0; r < rounds; r++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const res = evaluateRanking(model, data.train, data.test, { k: 10 });
  const wall = (performance.now() - t0) / 1000;
  console.log(`round ${r + 1}: ${res.users} users scored + metrics in ${wall.toFixed(3)} s wall, ${cpuSecondsSince(c0).toFixed(3)} CPU s; NDCG@10 ${res.metrics['ndcg@10']}`);
  lists = res.lists;
  users = res.perUser.user;
}

if (listsTo || compareWith) {
  // The top-10's scores, read back with scoreAll (the evaluation keeps only the items).
  const scores = new Float32Array(data.train.nItems);
  const listScores = new Float64Array(lists.length);
  for (let j = 0; j < users.length; j++) {
    model.scoreAll(users[j]!, scores);
    for (let r = 0; r < 10; r++) listScores[j * 10 + r] = lists[j * 10 + r]! >= 0 ? scores[lists[j * 10 + r]!]! : NaN;
  }
  if (listsTo) writeFileSync(listsTo, JSON.stringify({ users: Array.from(users), lists: Array.from(lists), scores: Array.from(listScores) }));
  if (compareWith) {
    const old = JSON.parse(readFileSync(compareWith, 'utf8')) as { users: number[]; lists: number[]; scores: number[] };
    let differ = 0;
    let maxDiff = 0;
    for (let p = 0; p < lists.length; p++) {
      if (old.lists[p] !== lists[p]) differ++;
      maxDiff = Math.max(maxDiff, Math.abs(old.scores[p]! - listScores[p]!));
    }
    const sameUsers = old.users.join() === Array.from(users).join();
    console.log(`against ${compareWith}: users ${sameUsers ? 'same' : 'DIFFER'}, ${differ} of ${lists.length} list positions differ, largest top-10 score difference ${maxDiff}`);
  }
}
