/**
 * Trend-aware baselines (issue 16) under P1 (`ml-ls-t20`), variants `all` and `pos4`: popularity
 * and item-kNN without and with a recent window / half-life, the 'auto' values chosen on P1's
 * validation split of train (never test). Prints, and writes to its section of
 * docs/benchmarks.md (unless --no-write), test NDCG@10 and Recall@10 with 95 % bootstrap
 * intervals, the paired per-user NDCG difference against the same model with the options off,
 * and every validation trial behind each 'auto' choice.
 *
 * With --hybrid it also fits the default hybrid with and without a trending popularity member
 * (both options 'auto') and reports both hybrids' tuned validation NDCG@10 and test figures.
 *
 *   node --import tsx bench/trend.ts [--variants all,pos4] [--data DIR] [--hybrid] [--no-write]
 */
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fitAndEvaluate, loadP1, pairedComparison, type P1Variant, type ProtocolResult } from '../src/eval/index.js';
import { ItemKnn } from '../src/recommenders/knn.js';
import { Popularity } from '../src/recommenders/popularity.js';
import type { TimeTrial } from '../src/recommenders/time-window.js';
import { HYBRID_DEFAULTS } from '../src/recommenders/hybrid.js';
import { createRecommender } from '../src/recommenders/registry.js';
import type { Recommender } from '../src/recommenders/types.js';
import { strArg as arg, writeSection } from './args.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');

interface Setting {
  label: string;
  /** The label of the same model with the options off (the paired baseline); none for a baseline. */
  base?: string;
  make: () => Recommender & { timeTrials: readonly TimeTrial[] };
}

const SETTINGS: Setting[] = [
  { label: 'popularity', make: () => new Popularity() },
  { label: 'popularity windowDays=auto', base: 'popularity', make: () => new Popularity({ windowDays: 'auto' }) },
  { label: 'popularity halfLifeDays=auto', base: 'popularity', make: () => new Popularity({ halfLifeDays: 'auto' }) },
  { label: 'popularity windowDays=auto halfLifeDays=auto', base: 'popularity', make: () => new Popularity({ windowDays: 'auto', halfLifeDays: 'auto' }) },
  { label: 'popularity windowDays=365', base: 'popularity', make: () => new Popularity({ windowDays: 365 }) },
  { label: 'itemknn', make: () => new ItemKnn() },
  { label: 'itemknn halfLifeDays=auto', base: 'itemknn', make: () => new ItemKnn({ halfLifeDays: 'auto' }) },
  { label: 'itemknn windowDays=auto', base: 'itemknn', make: () => new ItemKnn({ windowDays: 'auto' }) },
  { label: 'itemknn halfLifeDays=365', base: 'itemknn', make: () => new ItemKnn({ halfLifeDays: 365 }) },
];

const f4 = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : '—');
const iv = (r: ProtocolResult, m: string): string => {
  const i = r.intervals?.[m];
  return `${f4(r.metrics[m]!)} [${f4(i?.lo ?? NaN)}, ${f4(i?.hi ?? NaN)}]`;
};

function chosen(h: Record<string, unknown>): string {
  const tuned = (h.tuned as string[] | undefined) ?? [];
  const parts = ['windowDays', 'halfLifeDays'].map((f) => `${f}=${String(h[f])}${tuned.includes(f) ? ' (auto)' : ''}`);
  return parts.join(', ');
}

/** The default hybrid against the default plus a trending popularity member, on one variant. */
async function hybridRows(variant: P1Variant, data: Awaited<ReturnType<typeof loadP1>>): Promise<string[]> {
  const trending = { kind: 'popularity', config: { windowDays: 'auto', halfLifeDays: 'auto' } };
  const out = [
    `Hybrid, \`${variant}\`: tuned NDCG@10 is on the hybrid's validation split of train (what its weight search maximises); the test columns are P1's.`,
    '',
    '| hybrid members | trending member used | weights | tuned validation NDCG@10 | test NDCG@10 [95 % CI] | Δ test NDCG@10 vs default [95 % CI] | fit s |',
    '|---|---|---|---|---|---|---|',
  ];
  let base: ProtocolResult | undefined;
  for (const members of [HYBRID_DEFAULTS.members, [...HYBRID_DEFAULTS.members, trending]]) {
    process.stderr.write(`trend ${variant} hybrid (${members.length} members) … `);
    const model = createRecommender('hybrid', { members });
    const r = await fitAndEvaluate({
      protocol: 'ml-ls-t20',
      variant,
      model,
      train: data.train,
      test: data.test,
      datasetFile: data.file,
      datasetSha256: data.sha256,
      k: 10,
      seed: 0,
      bootstrap: 1000,
    });
    const h = model as unknown as { weights: number[]; tunedNdcg: number; memberModels: readonly Recommender[] };
    const member = members.length > HYBRID_DEFAULTS.members.length ? h.memberModels.at(-1)! : undefined;
    let delta = '—';
    if (base?.perUser && r.perUser) {
      const c = pairedComparison(r.perUser.ndcg, base.perUser.ndcg, { seed: 0 });
      delta = `${c.meanDiff >= 0 ? '+' : ''}${f4(c.meanDiff)} [${f4(c.diffInterval.lo)}, ${f4(c.diffInterval.hi)}]`;
    }
    base ??= r;
    const names = members.map((m) => (m.config ? `${m.kind} ${JSON.stringify(m.config)}` : m.kind)).join(' + ');
    out.push(
      `| ${names} | ${member ? chosen(member.config) : '—'} | ${h.weights.map((w) => w.toFixed(2)).join(', ')} | ${f4(h.tunedNdcg)} | ${iv(r, 'ndcg@10')} | ${delta} | ${r.fitSeconds.toFixed(1)} |`,
    );
    process.stderr.write(`tuned ${f4(h.tunedNdcg)} test ${f4(r.metrics['ndcg@10']!)}\n`);
  }
  return out;
}

async function main(): Promise<void> {
  const dataDir = arg('data') ?? resolve(ROOT, '../shared/datasets/ml-latest-small');
  const variants = (arg('variants') ?? 'all,pos4').split(',').filter(Boolean) as P1Variant[];
  const lines: string[] = [];
  const trialLines: string[] = [];
  let stamp = '';
  for (const variant of variants) {
    const data = await loadP1(dataDir, variant);
    const results = new Map<string, ProtocolResult>();
    lines.push(`#### \`${variant}\``, '', '| model and options | window / half-life used (days) | NDCG@10 [95 % CI] | Recall@10 [95 % CI] | Δ NDCG@10 vs options off [95 % CI] | fit s |', '|---|---|---|---|---|---|');
    for (const s of SETTINGS) {
      process.stderr.write(`trend ${variant} ${s.label} … `);
      const model = s.make();
      const r = await fitAndEvaluate({
        protocol: 'ml-ls-t20',
        variant,
        model,
        train: data.train,
        test: data.test,
        datasetFile: data.file,
        datasetSha256: data.sha256,
        k: 10,
        seed: 0,
        bootstrap: 1000,
      });
      results.set(s.label, r);
      stamp ||= `${r.stamp.protocol}, ${r.stamp.dataset.file} (sha256 ${r.stamp.dataset.sha256}), K = ${r.k}, seed ${r.seed}, ${r.stamp.codeVersion}`;
      let delta = '—';
      const base = s.base ? results.get(s.base) : undefined;
      if (base?.perUser && r.perUser) {
        const c = pairedComparison(r.perUser.ndcg, base.perUser.ndcg, { seed: 0 });
        delta = `${c.meanDiff >= 0 ? '+' : ''}${f4(c.meanDiff)} [${f4(c.diffInterval.lo)}, ${f4(c.diffInterval.hi)}]`;
      }
      lines.push(`| ${s.label} | ${chosen(r.hyperparameters)} | ${iv(r, 'ndcg@10')} | ${iv(r, 'recall@10')} | ${delta} | ${r.fitSeconds.toFixed(2)} |`);
      if (model.timeTrials.length > 0) {
        const t = model.timeTrials.map((x) => `${x.windowDays}/${x.halfLifeDays}: ${f4(x.ndcg)}`).join(' · ');
        trialLines.push(`- \`${variant}\`, ${s.label}: ${t}`);
      }
      process.stderr.write(`ndcg@10 ${f4(r.metrics['ndcg@10']!)} (${chosen(r.hyperparameters)}) fit ${r.fitSeconds.toFixed(2)} s\n`);
    }
    lines.push('');
    if (process.argv.includes('--hybrid')) lines.push(...(await hybridRows(variant, data)), '');
  }
  const body = [
    `### P1 \`ml-ls-t20\`: trend-aware popularity and item-kNN (bench/trend.ts, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
    '',
    `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB. Protocol: ${stamp}.`,
    'Command: `node --import tsx bench/trend.ts` (per model the same as `chorus evaluate --protocol ml-ls-t20 --variant <v> --model <m> -p <option>=<value>`).',
    'Δ is the paired per-user NDCG@10 difference against the same model with both options off (bootstrap 95 % CI, seed 0).',
    '',
    ...lines,
    "Validation trials behind each 'auto' choice (window/half-life days: validation NDCG@10 on P1's validation split of train; ties go to the earlier value):",
    '',
    ...trialLines,
  ].join('\n');
  process.stdout.write(`${body}\n`);
  if (!process.argv.includes('--no-write')) writeSection(resolve(ROOT, 'docs/benchmarks.md'), 'trend', body);
}

await main();
