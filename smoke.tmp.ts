import './src/marl/index.js';
import { buildSetup } from './src/eval/sim/setup.js';
import { loadSimData } from './src/eval/sim/data.js';
import { SeedRun } from './src/eval/sim/runner.js';
import { attachTeamContent } from './src/marl/content.js';
async function main(): Promise<void> {
const dataDir = '/work/shared/datasets/ml-latest-small';
let t0 = performance.now();
const setup = await buildSetup({ preset: 'sim-ml-ls-v1', dataDir });
console.log('setup s', ((performance.now() - t0) / 1000).toFixed(1));
t0 = performance.now();
await attachTeamContent(setup.ctx, loadSimData(dataDir).full);
console.log('content s', ((performance.now() - t0) / 1000).toFixed(1));
const steps = Number(process.argv[2] ?? 2000);
for (const [agent, cfg] of JSON.parse(process.argv[3] ?? '[["team",{}]]') as [string, Record<string, unknown>][]) {
  t0 = performance.now();
  const r = new SeedRun(setup, { agent, agentConfig: cfg, trainSteps: steps, nEnvs: 16, curvePoints: 5 }, Number(cfg.seed ?? 1));
  while (r.trainStepsDone < steps) r.train(steps);
  const t1 = performance.now();
  const m = r.evaluate(Number(process.argv[4] ?? 200));
  console.log(agent, JSON.stringify(cfg), 'train s', ((t1 - t0) / 1000).toFixed(1), 'eval s', ((performance.now() - t1) / 1000).toFixed(1), 'ret', m.return.toFixed(3), 'ctr', m.ctr.toFixed(3), 'gini', m.exposureGini.toFixed(3), 'cold', m.coldExposureShare.toFixed(4), 'curve', m.curve.value.map((x) => x.toFixed(2)).join(','));
}

}
void main();
