import { loadP1 } from './src/eval/p1.js';
import { fitAndEvaluate } from './src/eval/run.js';
import { createRecommender } from './src/recommenders/registry.js';
import type { HybridRecommender } from './src/recommenders/hybrid.js';
const cfg = JSON.parse(process.argv[2]!);
const d = await loadP1('../shared/datasets/ml-latest-small', 'all');
const m = createRecommender('hybrid', cfg) as HybridRecommender;
const r = await fitAndEvaluate({ protocol: 'ml-ls-t20', variant: 'all', model: m, train: d.train, test: d.test, datasetFile: d.file, datasetSha256: d.sha256, k: 10, seed: 0, bootstrap: 0, perUser: false });
console.log(process.argv[2], 'ndcg', r.metrics['ndcg@10']!.toFixed(4), 'recall', r.metrics['recall@10']!.toFixed(4), 'weights', m.weights.map((w) => w.toFixed(2)).join(','), 'val', m.tunedNdcg.toFixed(4), 'fit', r.fitSeconds.toFixed(0));
