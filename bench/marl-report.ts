/**
 * The issue-5 target tables from one or more `bench/marl.ts --out` JSON files: for each λ in the
 * files, every coordination mode against the best single agent at that λ (ratio of mean returns,
 * whether the 95 % intervals are disjoint, and the paired per-seed difference — the same seed gives
 * both the same simulated users), and every variant's exposure Gini and return against the user
 * agent alone at that λ.
 *
 *   node --import tsx bench/marl-report.ts bench/out/a.json [bench/out/b.json …] [--svg docs/img/marl-v1] [--user 'user agent alone [rls]']
 *
 * `--svg prefix` also writes, per λ, bar charts of the return and of the exposure Gini with their
 * 95 % intervals (`<prefix>-lambda<λ>-return.svg`, `…-gini.svg`).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { barChart } from '../src/eval/sim/svg.js';
import { meanCi, type MeanCi } from '../src/eval/sim/stats.js';

interface Row {
  label: string;
  lambda: number;
  alpha: number;
  return: MeanCi;
  gini: MeanCi;
  cold: MeanCi;
  perSeedReturn: number[];
  perSeedGini: number[];
}
interface Run {
  preset?: string;
  steps: number;
  seeds: number;
  seed0?: number;
  evalSessions: number;
  /** The content agent's item vectors (`bench/marl.ts --content`); files without it used the embeddings. */
  content?: string;
  rows: Row[];
}

const argv = process.argv.slice(2);
const svgAt = argv.indexOf('--svg');
const svgPrefix = svgAt >= 0 ? argv[svgAt + 1] : undefined;
// --user 'user agent alone [rls]': the reference for the "vs user alone" columns (default the untagged one).
const userAt = argv.indexOf('--user');
const userLabel = userAt >= 0 ? argv[userAt + 1]! : 'user agent alone';
const files = argv.filter((a, i) => !a.startsWith('--') && !(svgAt >= 0 && i === svgAt + 1) && !(userAt >= 0 && i === userAt + 1));
if (files.length === 0) {
  console.error('usage: node --import tsx bench/marl-report.ts <marl.json> [more.json …]');
  process.exit(2);
}
const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Run);
const key = (r: Run): string => `${r.preset ?? 'sim-ml-ls-v1'} · ${r.steps} training steps · ${r.evalSessions} evaluation sessions · content ${r.content ?? 'embed'}`;
for (const r of runs) if (key(r) !== key(runs[0]!)) throw new Error(`files differ in setup: "${key(r)}" vs "${key(runs[0]!)}"`);
// Rows of the same variant from runs over other seeds (--seed0) are pooled: their per-seed values
// are concatenated in file order (seed sets must not repeat) and the intervals recomputed.
const seedSets = new Map<string, Set<number>>();
const pooled = new Map<string, Row>();
for (const run of runs) {
  const seed0 = run.seed0 ?? 1;
  for (const r of run.rows) {
    const seen = seedSets.get(r.label) ?? new Set<number>();
    for (let s = seed0; s < seed0 + r.perSeedReturn.length; s++) {
      if (seen.has(s)) throw new Error(`seed ${s} of "${r.label}" appears in two files`);
      seen.add(s);
    }
    seedSets.set(r.label, seen);
    const prev = pooled.get(r.label);
    if (!prev) pooled.set(r.label, { ...r, perSeedReturn: [...r.perSeedReturn], perSeedGini: [...r.perSeedGini] });
    else {
      prev.perSeedReturn.push(...r.perSeedReturn);
      prev.perSeedGini.push(...r.perSeedGini);
      prev.return = meanCi(prev.perSeedReturn);
      prev.gini = meanCi(prev.perSeedGini);
    }
  }
}
const rows = [...pooled.values()];
const seedCount = (label: string): number => seedSets.get(label)?.size ?? 0;

const base = (label: string): string => label.replace(/ λ=[0-9.]+$/, '');
// Single agents: the team's members alone (with any --tag), the bandits that learn by ridge regression on the user agent's features, and the SlateQ DQN.
const SINGLES = ['user agent alone', 'item agent alone', 'content agent alone', 'user agent alone slateq shared', 'content agent alone slateq shared', 'mf agent alone', 'linucb', 'thompson', 'dqn slateq'];
const isSingle = (label: string): boolean => SINGLES.includes(base(label).replace(/ \[[^\]]+\]$/, ''));
const f = (m: MeanCi, d = 3): string => `${m.mean.toFixed(d)} [${m.ci95[0].toFixed(d)}, ${m.ci95[1].toFixed(d)}]`;
/** Short labels for the charts' x axis. */
const short = (label: string): string =>
  base(label)
    .replace(/^team /, '')
    .replace(/ agent alone$/, '')
    .replace('user agent + fair slots', 'user+fair')
    .replace('user + mf vdn', 'user+mf vdn')
    .replace('central-critic', 'c-critic')
    .replace(' meta-fusion', ' meta')
    .replace('independent', 'indep.');
const paired = (a: Row, b: Row): MeanCi => meanCi(a.perSeedReturn.map((x, i) => x - b.perSeedReturn[i]!));

const counts = [...new Set(rows.map((r) => seedCount(r.label)))];
console.log(`Setup: ${key(runs[0]!)} · ${counts.join(' or ')} seeds per row. Intervals: Student-t 95 % over seeds.`);
for (const lambda of [...new Set(rows.map((r) => r.lambda))].sort((a, b) => a - b)) {
  const at = rows.filter((r) => r.lambda === lambda && r.alpha === rows.find((x) => x.lambda === lambda)!.alpha);
  const singles = at.filter((r) => isSingle(r.label));
  const user = at.find((r) => base(r.label) === userLabel);
  if (singles.length === 0) continue;
  const best = singles.reduce((a, b) => (b.return.mean > a.return.mean ? b : a));
  console.log(`\n### λ = ${lambda}: coordination modes against the best single agent (${best.label}, ${f(best.return)})\n`);
  console.log('| variant | return | × best single | intervals disjoint | paired difference | exposure Gini | Gini vs user alone | return vs user alone | paired vs user alone |');
  console.log('| --- | --- | ---: | --- | --- | --- | ---: | ---: | --- |');
  for (const r of [...at].sort((a, b) => b.return.mean - a.return.mean)) {
    const disjoint = r.return.ci95[0] > best.return.ci95[1] || r.return.ci95[1] < best.return.ci95[0];
    const g = user ? `${(((r.gini.mean - user.gini.mean) / user.gini.mean) * 100).toFixed(1)} %` : '';
    const rv = user ? `${(((r.return.mean - user.return.mean) / user.return.mean) * 100).toFixed(1)} %` : '';
    const pu = user && r !== user && r.perSeedReturn.length === user.perSeedReturn.length ? f(paired(r, user)) : '—';
    console.log(
      `| ${r.label}${counts.length > 1 ? ` (${seedCount(r.label)} seeds)` : ''} | ${f(r.return)} | ${(r.return.mean / best.return.mean).toFixed(3)} | ${r !== best ? (disjoint ? 'yes' : 'no') : '—'} | ${r !== best && r.perSeedReturn.length === best.perSeedReturn.length ? f(paired(r, best)) : '—'} | ${r.gini.mean.toFixed(3)} | ${g} | ${rv} | ${pu} |`,
    );
  }
  if (svgPrefix) {
    const order = [...at].sort((a, b) => b.return.mean - a.return.mean);
    const file = (what: string): string => `${svgPrefix}-lambda${lambda}-${what}.svg`;
    mkdirSync(dirname(file('x')), { recursive: true });
    const where = `${runs[0]!.preset ?? 'sim-ml-ls-v1'}, λ = ${lambda}`;
    writeFileSync(file('return'), barChart(`Return (γ 0.95), ${where}`, 'mean return, 95 % CI', order.map((r) => ({ name: short(r.label), value: r.return.mean, lo: r.return.ci95[0], hi: r.return.ci95[1] }))));
    writeFileSync(file('gini'), barChart(`Exposure Gini, ${where}`, 'Gini, 95 % CI', order.map((r) => ({ name: short(r.label), value: r.gini.mean, lo: r.gini.ci95[0], hi: r.gini.ci95[1] }))));
    console.log(`\nCharts: ${file('return')}, ${file('gini')}`);
  }
}
