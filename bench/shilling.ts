/**
 * Shilling attacks on P1 (`ml-ls-t20`, variant `all`): P1's train split is attacked, P1's test
 * users are the genuine users whose top-10 is measured. For each model × attack: the pushed items'
 * hit ratio@10 before / after / after fitting without the profiles the detector flags, the mean
 * rank shift, the prediction shift (rating models only), and the detector's precision and recall on
 * the injected profiles. Prints a markdown table (docs/benchmarks.md is not written).
 *
 *   nice -n 10 node --import tsx bench/shilling.ts [--models popularity,itemknn,ease,als,bpr,mf]
 *     [--targets 5] [--filler 0.01] [--seed 1] [--data DIR]
 *
 * Attacks: random, average, bandwagon and segment at 5 % fake users, plus average at 1 % and 10 %.
 * The filler default 1 % of the catalogue (97 items) is close to the median genuine profile in
 * P1's train split, so profile length alone does not give the fakes away.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadP1 } from '../src/eval/p1.js';
import { runShilling, type AttackSpec } from '../src/robust/index.js';
import { numArg, strArg } from './args.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');
const dataDir = strArg('data') ?? resolve(ROOT, '../shared/datasets/ml-latest-small');
const models = (strArg('models') ?? 'popularity,itemknn,ease,als,bpr,mf').split(',').filter(Boolean);
const nTargets = numArg('targets', 5);
const filler = numArg('filler', 0.01);
const seed = numArg('seed', 1);

const attacks: AttackSpec[] = [
  { type: 'random', size: 0.05, filler },
  { type: 'average', size: 0.05, filler },
  { type: 'bandwagon', size: 0.05, filler },
  { type: 'segment', size: 0.05, filler },
  { type: 'average', size: 0.01, filler },
  { type: 'average', size: 0.1, filler },
];

const loadBefore = loadavg().map((x) => x.toFixed(2)).join(' ');
const started = performance.now();
const p1 = await loadP1(dataDir, 'all');
const testCounts = p1.test.userCounts();
const users = Int32Array.from({ length: p1.train.nUsers }, (_, u) => u).filter((u) => testCounts[u]! > 0);
const result = await runShilling({
  train: p1.train,
  users,
  models,
  attacks,
  targets: nTargets,
  seed,
  detector: true,
  onStep: (m) => process.stderr.write(`${m}\n`),
});
const loadAfter = loadavg().map((x) => x.toFixed(2)).join(' ');

const pct = (x: number): string => (Number.isFinite(x) ? (100 * x).toFixed(1) : '—');
const num = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '—');
const counts = p1.train.itemCounts();
const lines: string[] = [];
lines.push('## Shilling attacks on P1 (`ml-ls-t20`, variant `all`)');
lines.push('');
lines.push(`Command: \`nice -n 10 node --import tsx bench/shilling.ts\`${process.argv.length > 2 ? ` (args: ${process.argv.slice(2).join(' ')})` : ''}.`);
lines.push('');
lines.push(
  `Date ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · machine ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version} · ` +
    `load average before ${loadBefore}, after ${loadAfter} · ${((performance.now() - started) / 1000).toFixed(0)} s in all.`,
);
lines.push(
  `Protocol: P1 train split attacked (${p1.train.nUsers} users, ${p1.train.nItems} items), ${users.length} P1 test users as genuine users, ` +
    `hit ratio@10 over genuine users who had not rated a target, mean over ${result.targets.length} targets ` +
    `(items ${Array.from(result.targets, (t) => `${p1.train.items.toExternal(t)} (${counts[t]} ratings)`).join(', ')}), attack and model seed ${seed}, ` +
    `filler ${pct(filler)} % of items, registry defaults for every model.`,
);
if (result.detector) {
  const t = result.detector.training;
  lines.push(
    `Detector: logistic regression over RDMA, WDMA, WDA, length variance, DegSim (k = 25), FMTD, filler variance, rarity; trained on ${t.attacks} validation attacks ` +
      `(4 types × sizes 1/3/10 % × filler 0.5/2/5 %, other seeds and targets) injected into the clean train split; threshold ${num(result.detector.threshold, 3)} ` +
      `(best F1 there: precision ${num(t.precision)}, recall ${num(t.recall)}).`,
  );
}
lines.push('');
lines.push('| model | attack | fake users | HR@10 before | HR@10 after | HR@10 after, detector | rank shift | prediction shift | detector precision | detector recall | genuine flagged |');
lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of result.rows) {
  lines.push(
    `| ${r.model} | ${r.attack.type} ${pct(r.attack.size)} % | ${r.fakeProfiles} | ${pct(r.hitRatioBefore)} % | ${pct(r.hitRatioAfter)} % | ${pct(r.hitRatioDetector)} % | ` +
      `${num(r.rankShift, 0)} | ${num(r.predictionShift, 3)} | ${num(r.precision)} | ${num(r.recall)} | ${r.genuineFlagged} |`,
  );
}
lines.push('');
lines.push(
  'Rank shift: mean rank of a target among a genuine user\'s unseen items, before minus after (positive = pushed up). ' +
    'Prediction shift: mean predicted rating after minus before, only for models that predict ratings (mf); "—" for ranking-only models. ' +
    'Genuine users the detector flags lose their rows in the filtered fit and are scored by fold-in from their own rows.',
);
process.stdout.write(`${lines.join('\n')}\n`);
