/**
 * `chorus demo`: the end-to-end tour on the bundled demo data (a generated film catalogue in
 * MovieLens format, data/demo/README.md): split by P1's rule, fit a few models, evaluate them on
 * the held-out future, print a comparison table and sample recommendations with titles. Runs in a
 * few seconds.
 */
import { relative } from 'node:path';
import type { Command } from 'commander';
// Through the eval layer's public index, so protocols registered there (P2, …) are known.
import { createEvalModel, evalModelNames, loadP1, P1_ID, referenceNote, fitAndEvaluate, type ProtocolResult } from '../../eval/index.js';
import type { Dataset } from '../../data/dataset.js';
import { activeCounts } from '../../data/split.js';
import type { Recommender } from '../../recommenders/types.js';
import { intFlag, loadConfig } from '../config.js';
import { dataPath } from '../data.js';
import { table, withCleanStdout, writeJson, writeOut } from '../output.js';
import { progressBar } from '../progress.js';

const DEFAULT_MODELS = ['popularity', 'itemknn', 'als', 'ease'];

interface DemoFlags {
  data?: string;
  models?: string;
  users?: string;
  config?: string;
  json?: boolean;
}

interface Sample {
  user: string;
  recent: string[];
  recommendations: { item: string; title: string; score: number; heldOut: boolean }[];
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('train and evaluate a few models on the bundled demo data; print a table and sample recommendations')
    .option('-d, --data <dir>', 'MovieLens-format folder (default: the bundled data/demo)')
    .option('--models <list>', `comma-separated model names (default ${DEFAULT_MODELS.join(',')})`)
    .option('--users <n>', 'how many users to show recommendations for (default 3)')
    .action(async function (this: Command) {
      const flags = this.optsWithGlobals<DemoFlags>();
      const { config } = loadConfig(flags.config);
      const dir = dataPath(flags.data, config);
      const available = new Set(evalModelNames());
      const models = flags.models
        ? flags.models.split(',').map((s) => s.trim()).filter(Boolean)
        : (config.demo?.models ?? DEFAULT_MODELS.filter((m) => available.has(m)));
      const nSamples = intFlag(flags.users, 'users', 0) ?? config.demo?.users ?? 3;
      // Build every model first, so a bad name or config fails before any work.
      const instances = models.map((m) => createEvalModel(m, { ...(config.models?.[m] ?? {}) }));
      const json = Boolean(flags.json);
      await withCleanStdout(json, async () => {
        const data = await loadP1(dir, 'all');
        const counts = activeCounts(data.full);
        if (!json) {
          writeOut(
            `Chorus demo · ${dir}: ${counts.users} users, ${counts.items.toLocaleString('en-US')} items, ${data.full.nInteractions.toLocaleString('en-US')} ratings`,
          );
          writeOut(`Split by P1's rule (each user's last 20 % of ratings held out); full-catalogue ranking, K = 10.\n`);
        }
        const results: ProtocolResult[] = [];
        for (const model of instances) {
          const bar = progressBar(model.kind);
          try {
            results.push(
              await fitAndEvaluate({
                protocol: P1_ID,
                variant: 'all',
                model,
                train: data.train,
                test: data.test,
                datasetFile: data.file,
                datasetSha256: data.sha256,
                k: 10,
                seed: 0,
                bootstrap: 200,
                onProgress: (_phase, d, t, u) => bar.update(d, t, u),
              }),
            );
          } finally {
            bar.stop();
          }
        }
        const note = referenceNote(data.sha256);
        if (note) for (const r of results) r.note = note;
        const best = results.reduce((a, b) => ((b.metrics['ndcg@10'] ?? 0) > (a.metrics['ndcg@10'] ?? 0) ? b : a));
        const bestModel = instances[results.indexOf(best)]!;
        const samples = sampleRecommendations(bestModel, data.train, data.test, nSamples);
        if (json) {
          writeJson({
            dataset: { dir, file: data.file, users: counts.users, items: counts.items, ratings: data.full.nInteractions },
            results: results.map(({ perUser: _p, perUserIds: _ids, ...r }) => r),
            best: best.model,
            samples,
          });
          return;
        }
        writeOut(
          table(
            ['model', 'ndcg@10', 'recall@10', 'precision@10', 'hr@10', 'coverage@10', 'fit s'],
            results.map((r) => [r.model, r.metrics['ndcg@10']!, r.metrics['recall@10']!, r.metrics['precision@10']!, r.metrics['hr@10']!, r.metrics['coverage@10']!, r.fitSeconds]),
          ),
        );
        const st = best.stamp;
        writeOut(
          `${best.users} users evaluated · P1 rules (${st.protocol}, variant ${st.variant}, K=${st.k}, seed ${st.seeds.join('/')}) on ` +
            `${relative(process.cwd(), st.dataset.file) || st.dataset.file} sha256:${st.dataset.sha256} · code ${st.codeVersion}`,
        );
        if (best.note) writeOut(`note: ${best.note}`);
        writeOut(`\nSample recommendations from ${best.model} (best NDCG@10); ✓ = the user did rate it later (held out):`);
        for (const s of samples) {
          writeOut(`\nuser ${s.user} · recently rated: ${s.recent.join('; ')}`);
          s.recommendations.forEach((r, j) => writeOut(`  ${String(j + 1).padStart(2)}. ${r.heldOut ? '✓' : ' '} ${r.title || r.item}`));
        }
      });
    });
}

/** Top-5 for the first `n` evaluated users (by index), with their most recent training titles. */
function sampleRecommendations(model: Recommender, train: Dataset, test: Dataset, n: number): Sample[] {
  const out: Sample[] = [];
  const tr = train.byUser();
  const te = test.byUser();
  const title = (i: number) => train.itemMeta[i]?.title ?? train.items.toExternal(i);
  for (let u = 0; u < train.nUsers && out.length < n; u++) {
    if (te.indptr[u + 1]! === te.indptr[u]! || tr.indptr[u + 1]! === tr.indptr[u]!) continue;
    const recent: string[] = [];
    for (let p = tr.indptr[u + 1]! - 1; p >= tr.indptr[u]! && recent.length < 3; p--) recent.push(title(tr.indices[p]!));
    const future = new Set(te.indices.subarray(te.indptr[u]!, te.indptr[u + 1]!));
    const ranked = model.recommend(u, 5);
    out.push({
      user: train.users.toExternal(u),
      recent,
      recommendations: Array.from(ranked.items, (i, r) => ({
        item: train.items.toExternal(i),
        title: train.itemMeta[i]?.title ?? '',
        score: ranked.scores[r]!,
        heldOut: future.has(i),
      })),
    });
  }
  return out;
}
