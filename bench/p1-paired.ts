/**
 * P1 (`ml-ls-t20`) test figures with 95 % intervals for any models with any configs, and the paired
 * comparison (per-user NDCG@10: bootstrap interval of the mean difference, t-test and sign-flip
 * p-values) of every model against the rows named `ease` and `hybrid`. Each model runs in its own
 * child process. This is the script behind docs/benchmarks.md "Sequence models on P1":
 *
 *   node --import tsx bench/p1-paired.ts all ease=ease hybrid=hybrid sasrec=sasrec \
 *     'hybrid+sasrec=hybrid:{"members":[{"kind":"ease"},{"kind":"bpr"},{"kind":"itemknn"},{"kind":"content","config":{"halfLife":3}},{"kind":"content","config":{"halfLife":20}},{"kind":"sasrec"}]}'
 *
 * The `hybrid-seq` preset (its members chosen on validation by bench/p1-member-search.ts):
 *
 *   node --import tsx bench/p1-paired.ts pos4 ease=ease hybrid=hybrid hybrid-seq=hybrid-seq
 *
 * Arguments: the variant (`all` or `pos4`), then `name=model[:json-config]` per row. Set
 * CHORUS_DATA to another ml-latest-small folder; REUSE=name,… reuses a row's result from an
 * earlier run (in the temp folder below).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProtocol } from '../src/eval/index.js';
import { pairedComparison } from '../src/eval/stats.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');
const DATA = process.env.CHORUS_DATA ?? resolve(ROOT, '..', 'shared', 'datasets', 'ml-latest-small');
const OUT = join(tmpdir(), 'chorus-p1-paired');
mkdirSync(OUT, { recursive: true });
const args = process.argv.slice(2);
if (args[0] === '--one') {
  const [, variant, model, cfg, out] = args;
  const r = await runProtocol({ protocol: 'ml-ls-t20', variant, model: model!, modelConfig: JSON.parse(cfg!), dataDir: DATA, seed: 0, bootstrap: 1000, perUser: true });
  writeFileSync(out!, JSON.stringify({ ndcg: r.metrics['ndcg@10'], recall: r.metrics['recall@10'], ci: r.intervals?.['ndcg@10'], fit: r.fitSeconds, fitCpu: r.fitCpuSeconds, evalS: r.evalSeconds, users: Array.from(r.perUser!.user), perUser: Array.from(r.perUser!.ndcg) }));
  process.exit(0);
}
const variant = args[0]!;
const rows: { name: string; ndcg: number; recall: number; ci: { lo: number; hi: number }; fit: number; fitCpu: number; evalS: number; users: number[]; perUser: number[] }[] = [];
for (const spec of args.slice(1)) {
  const [name, rest] = spec.split('=') as [string, string];
  const colon = rest.indexOf(':');
  const model = colon < 0 ? rest : rest.slice(0, colon);
  const cfg = colon < 0 ? '{}' : rest.slice(colon + 1);
  const out = join(OUT, `${variant}-${name.replace(/[^\w+-]/g, '_')}.json`);
  process.stderr.write(`${variant} ${name} … `);
  if (!(process.env.REUSE ?? '').split(',').includes(name)) execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--one', variant, model, cfg, out], { stdio: ['ignore', 'inherit', 'inherit'] });
  const r = JSON.parse(readFileSync(out, 'utf8'));
  process.stderr.write(`${r.ndcg.toFixed(4)} fit ${r.fit.toFixed(1)} s\n`);
  rows.push({ name, ...r });
}
console.log(`\nP1 ml-ls-t20 ${variant}, K=10, seed 0, bootstrap 1000`);
console.log('| model | NDCG@10 [95 % CI] | Recall@10 | fit s (CPU s) | eval s |');
for (const r of rows) console.log(`| ${r.name} | ${r.ndcg.toFixed(4)} [${r.ci.lo.toFixed(4)}, ${r.ci.hi.toFixed(4)}] | ${r.recall.toFixed(4)} | ${r.fit.toFixed(1)} (${r.fitCpu.toFixed(1)}) | ${r.evalS.toFixed(2)} |`);
console.log('\nPaired (same users), NDCG@10, A − B [95 % CI], t-test p, sign-flip p');
for (let a = 0; a < rows.length; a++) for (let b = 0; b < rows.length; b++) {
  if (a === b || !['ease', 'hybrid'].includes(rows[b]!.name) || ['ease', 'hybrid'].includes(rows[a]!.name) && b > a) continue;
  const A = rows[a]!, B = rows[b]!;
  if (A.users.join() !== B.users.join()) throw new Error('user sets differ');
  const c = pairedComparison(A.perUser, B.perUser, { seed: 0 });
  console.log(`| ${A.name} − ${B.name} | ${c.meanDiff >= 0 ? '+' : ''}${c.meanDiff.toFixed(4)} [${c.diffInterval.lo.toFixed(4)}, ${c.diffInterval.hi.toFixed(4)}] | p ${c.pValue.toPrecision(2)} | p ${c.pRandomization.toPrecision(2)} |`);
}
