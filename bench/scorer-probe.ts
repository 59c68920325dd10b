/**
 * How well does each scorer rank what the simulated user would click? For every user of a preset,
 * at the start of a session (opening satiation, no drift), the top 10 unconsumed items by each
 * scorer are scored with the hidden click utility at the top position (docs/simulator.md: rating,
 * genre affinity, satiation, attractiveness), and the mean over the users is printed beside the
 * oracle's (the top 10 by that utility). A diagnostic of the relevance an extra team agent brings:
 * it reads the hidden world, which no agent sees, so it chooses nothing and is not a benchmark
 * of the agents.
 *
 *   node --import tsx bench/scorer-probe.ts [--preset sim-ml-ls-v1] [--scorers 'mf,mf{"epochs":40,"factors":200},ease'] [--stride 1]
 *
 * `als prior` is the agents' own prior (implicit ALS on the train split); each `--scorers` entry is
 * a recommender fitted on the train split (the syntax of `--extras`).
 */
import { registerTeam } from '../src/marl/register.js';
import { buildSetup } from '../src/eval/sim/setup.js';
import { loadSimData } from '../src/eval/sim/data.js';
import { clickUtility, initialSatiation } from '../src/env/world.js';
import { fitExtras, parseExtrasSpec } from '../src/marl/extras.js';

// The team is not in the agent and recommender registries until asked for (as the CLI does).
registerTeam();

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

const K = 10;

/** Mean of `util` over the K best unconsumed items by `score`. */
function topMean(score: ArrayLike<number>, util: Float64Array, taken: Uint8Array, order: Int32Array): number {
  let n = 0;
  for (let i = 0; i < order.length; i++) if (!taken[i]) order[n++] = i;
  const idx = order.subarray(0, n).sort((a, b) => score[b]! - score[a]! || a - b);
  let s = 0;
  for (let k = 0; k < K; k++) s += util[idx[k]!]!;
  return s / K;
}

async function main(): Promise<void> {
  const preset = arg('preset', 'sim-ml-ls-v1');
  const dataDir = arg('data', '../shared/datasets/ml-latest-small');
  const stride = Number(arg('stride', '1'));
  const specs = parseExtrasSpec(arg('scorers', 'mf,mf{"epochs":40},mf{"epochs":40,"factors":200},ease'), 'scorers', { distinct: false });
  const setup = await buildSetup({ preset, dataDir, lambda: 0.1, alpha: 0.1 });
  const data = await loadSimData(dataDir);
  const { world: w, config: cfg } = setup.preset;
  const N = w.nItems;
  const fitted = await fitExtras(specs, data.train);
  const labels = ['oracle (hidden utility)', 'als prior', ...specs.map((s) => (s.config ? `${s.name} ${JSON.stringify(s.config)}` : s.name))];
  const sums = new Float64Array(labels.length);
  const sat = new Float32Array(w.categoryNames.length);
  const drift = new Float32Array(w.dim);
  const util = new Float64Array(N);
  const buf = new Float32Array(N);
  const order = new Int32Array(N);
  const taken = new Uint8Array(N);
  let users = 0;
  for (let k = 0; k < w.users.length; k += stride) {
    const u = w.users[k]!;
    initialSatiation(w, cfg, u, sat, 0);
    taken.fill(0);
    for (let h = w.histIndptr[u]!; h < w.histIndptr[u + 1]!; h++) taken[w.histItems[h]!] = 1;
    for (let i = 0; i < N; i++) util[i] = clickUtility(w, cfg, u, i, 0, drift, 0, sat, 0);
    sums[0]! += topMean(util, util, taken, order);
    setup.ctx.scoreUser!(u, buf);
    sums[1]! += topMean(buf, util, taken, order);
    const history = w.histItems.subarray(w.histIndptr[u]!, w.histIndptr[u + 1]!);
    fitted.forEach((f, j) => {
      f.scoreUser(u, history, buf);
      sums[2 + j]! += topMean(buf, util, taken, order);
    });
    users++;
  }
  console.log(`${preset}: mean hidden click utility of each scorer's top ${K} at session start, ${users} users`);
  console.log('| scorer | top-10 utility | share of the oracle |');
  console.log('| --- | ---: | ---: |');
  for (let j = 0; j < labels.length; j++) console.log(`| ${labels[j]} | ${(sums[j]! / users).toFixed(3)} | ${((100 * sums[j]!) / sums[0]!).toFixed(1)} % |`);
}

void main();
