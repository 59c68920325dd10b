/**
 * Federated ALS against centralised ALS under P1 (`ml-ls-t20`, variant `all`): NDCG@10 with its 95 %
 * bootstrap interval, the ratio to centralised ALS with the same hyper-parameters (the ALS
 * defaults), rounds, communication, with and without secure aggregation (which must give the same
 * model bit for bit), and with client-level DP at a few ε. Prints a table; writes nothing.
 *
 *   node --import tsx bench/federated.ts [--split test|validation] [--bootstrap 1000] [--only 1,3]
 *   node --import tsx bench/federated.ts --part agent [--seeds 3]
 *
 * The federated settings below were chosen on `--split validation` (P1's rule applied to train).
 * `--part agent` compares federated LinUCB (./src/federated/fed-linucb.ts) with LinUCB trained
 * centrally for the same user-steps in the simulator preset sim-ml-ls-v1 (bench/federated-agent.ts).
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { P1_SPLIT, validationSplit } from '../src/data/split.js';
import { loadP1 } from '../src/eval/p1.js';
import { fitAndEvaluate } from '../src/eval/run.js';
import type { ProtocolResult } from '../src/eval/protocol.js';
import { FederatedAls, type FederatedOptions } from '../src/federated/fed-als.js';
import { Als } from '../src/recommenders/als.js';
import type { Recommender } from '../src/recommenders/types.js';
import { strArg } from './args.js';

if (strArg('part', 'als') === 'agent') {
  await import('./federated-agent.js');
  process.exit(0);
}

const split = strArg('split', 'test') as 'test' | 'validation';
const bootstrap = Number(strArg('bootstrap', '1000'));
const only = strArg('only')?.split(',').map(Number);

interface Row {
  label: string;
  federated?: Partial<FederatedOptions>;
  /** Check that this row's model equals the previous row's bit for bit. */
  sameAsPrevious?: boolean;
}

/** DP rows: 50 clients (δ = 1/50); clip 0.1 was the best of {0.1, 1, 10} at ε = 8 on the validation split. */
const dp = (epsilon: number): Row => ({
  label: `50 clients, DP ε=${epsilon}`,
  federated: { clients: 50, rounds: 15, dp: { clip: 0.1, epsilon } },
});

const ROWS: Row[] = [
  { label: 'centralised ALS (15 iterations)' },
  { label: '10 clients iid', federated: { clients: 10, rounds: 15 } },
  { label: '10 clients iid, secure aggregation', federated: { clients: 10, rounds: 15, secureAgg: true }, sameAsPrevious: true },
  { label: '10 clients iid', federated: { clients: 10, rounds: 50 } },
  { label: '10 clients iid, 3 local epochs', federated: { clients: 10, rounds: 15, localEpochs: 3 } },
  { label: '10 clients by-activity (non-IID)', federated: { clients: 10, rounds: 15, partition: 'by-activity' } },
  { label: '100 clients iid, q = 0.2', federated: { clients: 100, rounds: 50, clientFraction: 0.2 } },
  dp(2),
  dp(8),
  dp(32),
];

const data = await loadP1('../shared/datasets/ml-latest-small', 'all');
const parts = split === 'validation' ? (({ train, validation }) => ({ train, test: validation }))(validationSplit(data.train, P1_SPLIT)) : { train: data.train, test: data.test };
const load = readFileSync('/proc/loadavg', 'utf8').trim();
console.log(`bench/federated.ts — ${new Date().toISOString()} — ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, load ${load}`);
console.log(`protocol ml-ls-t20 variant all split ${split}, K 10, seed 0, bootstrap ${bootstrap}; ALS defaults (factors 64, λ 10, α 1, CG 3 steps) for every row`);
console.log('');
console.log('| setting | rounds × local epochs | NDCG@10 [95 % CI] | × centralised | down MB | up MB | key setup KB | ε (δ) | fit s |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');

const evaluate = (model: Recommender): Promise<ProtocolResult> =>
  fitAndEvaluate({
    protocol: split === 'validation' ? 'ml-ls-t20/validation' : 'ml-ls-t20',
    variant: 'all',
    model,
    train: parts.train,
    test: parts.test,
    datasetFile: data.file,
    datasetSha256: data.sha256,
    k: 10,
    seed: 0,
    bootstrap,
    perUser: false,
  });

let central = NaN;
let previous: Float32Array | null = null;
for (const [n, row] of ROWS.entries()) {
  if (only && !only.includes(n) && n !== 0) continue;
  const model = row.federated ? new FederatedAls({ federated: row.federated }) : new Als({});
  const r = await evaluate(model);
  const ndcg = r.metrics['ndcg@10']!;
  if (!row.federated) central = ndcg;
  const iv = r.intervals?.['ndcg@10'];
  const ci = `${ndcg.toFixed(4)}${iv ? ` [${iv.lo.toFixed(3)}, ${iv.hi.toFixed(3)}]` : ''}`;
  const items = model instanceof FederatedAls ? model.als.itemEmbeddings() : (model as Als).itemEmbeddings();
  let label = row.label;
  if (row.sameAsPrevious && previous) label += items.length === previous.length && items.every((v, k) => Object.is(v, previous![k])) ? ' (bit-identical to the row above)' : ' (DIFFERS from the row above)';
  previous = items;
  if (model instanceof FederatedAls) {
    const rep = model.report;
    const c = model.config.federated;
    const eps = rep.privacy ? `${rep.privacy.epsilon.toFixed(2)} (${rep.privacy.delta.toPrecision(2)})` : '—';
    console.log(
      `| ${label} | ${c.rounds} × ${c.localEpochs} | ${ci} | ${(ndcg / central).toFixed(2)} | ${(rep.bytesDown / 1e6).toFixed(0)} | ${(rep.bytesUp / 1e6).toFixed(0)} | ${(rep.setupBytes / 1e3).toFixed(1)} | ${eps} | ${r.fitSeconds.toFixed(1)} |`,
    );
  } else console.log(`| ${label} | — | ${ci} | 1.00 | — | — | — | — | ${r.fitSeconds.toFixed(1)} |`);
}
console.log('');
console.log(`load after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
