/**
 * One seed of the team on a simulator preset, with the item agent's value weights and the user
 * agent's weight on its relevance prior printed every 250 training steps, then a short
 * evaluation. For diagnosing a collapsing seed (docs/benchmarks.md, "collapsing seeds fixed").
 *
 *   node --import tsx bench/team-diag.ts [--seed 5] [--coordination vdn] [--preset sim-ml-ls-v1] [--lambda 0.1] [--steps 2000] [--eval 300] [--over '{"credit":"uniform"}']
 */
import { registerTeam } from '../src/marl/register.js';
import { buildSetup } from '../src/eval/sim/setup.js';
import { loadSimData } from '../src/eval/sim/data.js';
import { SeedRun } from '../src/eval/sim/runner.js';
import { attachTeamContent } from '../src/marl/content.js';
import type { TeamAgent } from '../src/marl/team.js';
import { ITEM_FEATURES } from '../src/marl/views.js';
import { numArg, strArg } from './args.js';

// The team is not in the agent and recommender registries until asked for (as the CLI does).
registerTeam();

const seed = numArg('seed', 5);
const coordination = strArg('coordination', 'vdn');
const preset = strArg('preset', 'sim-ml-ls-v1');
const lambda = numArg('lambda', 0.1);
const steps = numArg('steps', 2000);
const over = JSON.parse(strArg('over', '{}')) as Record<string, unknown>;
const dataDir = strArg('data', '../shared/datasets/ml-latest-small');

const data = await loadSimData(dataDir);
const setup = await buildSetup({ preset, dataDir, lambda, alpha: 0.1 });
await attachTeamContent(setup.ctx, data.full);
const run = new SeedRun(setup, { agent: 'team', agentConfig: { coordination, lambda, alpha: 0.1, ...over }, trainSteps: steps, nEnvs: 16, curvePoints: 5 }, seed);
const team = run.agent as unknown as TeamAgent;
const ki = team.memberNames.indexOf('item');
const ku = team.memberNames.indexOf('user');
while (run.trainStepsDone < steps) {
  run.train(250);
  const parts: string[] = [String(run.trainStepsDone)];
  if (ki >= 0) parts.push(`item θ ${ITEM_FEATURES.map((f, j) => `${f}=${team.values[ki]!.theta[j]!.toFixed(3)}`).join(' ')}`);
  if (ku >= 0) {
    const tu = team.values[ku]!.theta;
    parts.push(`user prior θ ${tu[tu.length - 1]!.toFixed(3)}, |θ_user| ${Math.hypot(...tu).toFixed(3)}`);
  }
  console.log(parts.join(' | '));
}
const m = run.evaluate(numArg('eval', 300));
console.log(`return ${m.return.toFixed(3)} · cold share ${m.coldExposureShare.toFixed(3)} · CTR ${m.ctr.toFixed(3)} · agents ${JSON.stringify(team.summary().agents)}`);
