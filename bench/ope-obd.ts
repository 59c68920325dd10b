/**
 * Off-policy evaluation on the Open Bandit sample (issue 17): per campaign (men, women),
 *
 * - the uniform policy's click rate estimated from the Bernoulli Thompson sampling (bts) log,
 *   π = 1/|items| at every position (fully known);
 * - the bts policy's click rate estimated from the uniform (random) log. Its action probabilities
 *   are not in the data beyond the logged item's, so the target is the time-averaged bts policy,
 *   π̂(a | position) = the share of the bts log's rows at that position that showed a
 *   (src/ope/obd.ts `obdPositionFrequencies`), written as an action-probability file.
 *
 * Each estimate goes through `chorus ope` (its `runOpe`, the same code path as the command line)
 * and is compared with the on-policy mean: the target's own log's click rate, with a seeded
 * bootstrap interval. Prints the markdown table recorded in docs/benchmarks.md and the commands.
 *
 *   npx tsx bench/ope-obd.ts [--bootstrap 1000] [--seed 0] [--out /tmp/chorus-ope-obd]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOpe } from '../src/cli/commands/ope.js';
import { bootstrapMean } from '../src/eval/stats.js';
import { loadObd, obdCsvPath, obdPositionFrequencies } from '../src/ope/obd.js';
import { numArg, strArg } from './args.js';

const bootstrap = numArg('bootstrap', 1000);
const seed = numArg('seed', 0);
const outDir = strArg('out', '/tmp/chorus-ope-obd');
const ESTIMATORS = 'dm,ips,snips,dr,switch-dr';
mkdirSync(outDir, { recursive: true });

const f4 = (x: number): string => (x * 100).toFixed(3);
const rows: string[] = [];
const commands: string[] = [];

for (const campaign of ['men', 'women']) {
  for (const [target, logging] of [['uniform', 'bts'], ['bts', 'random']] as const) {
    const logPath = obdCsvPath(campaign, logging);
    const targetLog = loadObd(campaign, target === 'uniform' ? 'random' : 'bts');
    let policy = 'uniform';
    if (target === 'bts') {
      policy = join(outDir, `bts-${campaign}.csv`);
      const lines = ['record,position,action,probability', ...obdPositionFrequencies(targetLog).map((r) => `*,${r.position},${r.item},${r.probability}`)];
      writeFileSync(policy, `${lines.join('\n')}\n`);
    }
    const truth = bootstrapMean(targetLog.click, { samples: bootstrap, seed });
    for (const rewardModel of ['ridge', 'action-mean']) {
      const args = { log: logPath, policy, estimators: ESTIMATORS, rewardModel, folds: '5', bootstrap: String(bootstrap), seed: String(seed) };
      commands.push(`chorus ope --log ${logPath} --policy ${policy} --estimators ${ESTIMATORS} --reward-model ${rewardModel} --folds 5 --bootstrap ${bootstrap} --seed ${seed} --json`);
      const r = await runOpe(args);
      for (const [name, e] of Object.entries(r.estimates)) {
        // DM/DR/switch-DR depend on the reward model; IPS and SNIPS do not (print them once).
        if (rewardModel === 'action-mean' && (name === 'ips' || name === 'snips')) continue;
        const label = name === 'ips' || name === 'snips' ? name : `${name} (${rewardModel})`;
        const covers = e.ci95[0] <= truth.mean && truth.mean <= e.ci95[1];
        rows.push(
          `| ${campaign} | ${target} from ${logging} | ${label} | ${f4(e.value)} [${f4(e.ci95[0])}, ${f4(e.ci95[1])}] | ${f4(truth.mean)} [${f4(truth.lo)}, ${f4(truth.hi)}] | ${e.value >= truth.mean ? '+' : ''}${f4(e.value - truth.mean)} (${(((e.value - truth.mean) / truth.mean) * 100).toFixed(0)} %) | ${covers ? 'yes' : 'no'} | ${Math.round(r.ess)} | ${r.maxWeight.toFixed(1)} |`,
        );
      }
    }
  }
}

process.stdout.write(
  [
    '| campaign | target from log | estimator | estimate, % CTR [95 % CI] | on-policy mean, % [95 % CI] | error, points (relative) | CI covers on-policy mean | ESS | max weight |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Commands:',
    '```',
    ...commands,
    '```',
    '',
  ].join('\n'),
);
