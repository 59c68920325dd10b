/**
 * `chorus ope --log <file|store-url> --policy <name|file>`: off-policy estimates of a target
 * policy's value from a logged decision log (a Chorus OPE log, the server's `GET /events` export
 * or its store, an Open Bandit Dataset CSV), with seeded bootstrap intervals, the effective sample
 * size and the log's stamp (file and sha256). DM and DR use a cross-fitted reward model.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { isStoreUrl } from '../../store/open.js';
import type { Command } from 'commander';
import { readAgentFile } from '../../agents/agent-file.js';
import { ConfigError } from '../../errors.js';
import { ESTIMATORS, type EstimatorName, type OpeResult } from '../../ope/estimators.js';
import { readEventsLog, readOpeLog, readStoreLog, sniffLogFormat, type OpeDataset } from '../../ope/logs.js';
import { readObdLog } from '../../ope/obd.js';
import { runSimOpe, type SimOpeResult } from '../../ope/sim-study.js';
import { makeTargetPolicy, softened, type TargetPolicy } from '../../ope/policies.js';
import { recommenderPolicy } from '../../ope/recommender-policy.js';
import { listRegressors } from '../../ope/regressors.js';
import { DEFAULT_ESTIMATORS, checkEstimators, checkRewardModel, runEstimators } from '../../ope/run.js';
import type { SlateResult } from '../../ope/slates.js';
import { MODEL_FORMAT, loadModel } from '../../recommenders/persist.js';
import { createRecommender, listRecommenders } from '../../recommenders/registry.js';
import { intFlag, loadConfig, parseParams } from '../config.js';
import { dataFlagOptions, loadData, readOptions, numberFlag, oneOf } from '../data.js';
import { readModelIndex } from '../model-index.js';
import { formatNumber, table, withCleanStdout, writeJson, writeOut } from '../output.js';

interface OpeFlags {
  log?: string;
  format?: string;
  policy?: string;
  epsilon?: string;
  estimators?: string;
  rewardModel?: string;
  rewardParam?: string[];
  folds?: string;
  bootstrap?: string;
  seed?: string;
  clip?: string;
  tau?: string;
  trainData?: string;
  preset?: string;
  behaviour?: string;
  decisions?: string;
  seeds?: string;
  data?: string;
  trainSteps?: string;
  behaviourParam?: string[];
  policyParam?: string[];
  config?: string;
  json?: boolean;
}

const FORMATS = ['chorus', 'events', 'obd'] as const;

/** Read the log named by `--log`: a store URL (`sqlite:…`) or a file in one of FORMATS. */
export async function readLog(log: string, format?: (typeof FORMATS)[number]): Promise<OpeDataset> {
  if (isStoreUrl(log)) return readStoreLog(log);
  const f = format ?? sniffLogFormat(log);
  if (f === 'obd') return readObdLog(log);
  if (f === 'events') return readEventsLog(log);
  return readOpeLog(log);
}

function isModelFile(path: string): boolean {
  if (!/\.json$/i.test(path) || !existsSync(path)) return false;
  // A model file starts with its header: its first bytes are enough to tell (model files can be large).
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(256);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return /"format"\s*:\s*"/.test(buf.toString('utf8', 0, n)) && buf.toString('utf8', 0, n).includes(MODEL_FORMAT);
  } finally {
    closeSync(fd);
  }
}

async function resolvePolicy(spec: string, data: OpeDataset, epsilon: number, flags: OpeFlags): Promise<TargetPolicy> {
  if (isModelFile(spec)) {
    const [rec, index] = await Promise.all([loadModel(spec), readModelIndex(spec)]);
    return softened(recommenderPolicy(`model:${spec}`, rec, index.users, index.items, data), epsilon, data);
  }
  if (listRecommenders().some((r) => r.name === spec)) {
    if (!flags.trainData) {
      throw new ConfigError(`policy "${spec}" is a recommender: give --train-data <path> to fit it on (the log's own rewards are not used to fit the target), or a model file from \`chorus train\``, 'train-data');
    }
    const { dataset } = await loadData(flags.trainData, readOptions(loadConfig(flags.config).config, dataFlagOptions({})));
    const rec = createRecommender(spec);
    await rec.fit(dataset);
    return softened(recommenderPolicy(spec, rec, dataset.users.ids(), dataset.items.ids(), data), epsilon, data);
  }
  return makeTargetPolicy(spec, data, epsilon);
}

function parseEstimators(v: string | undefined): readonly EstimatorName[] {
  if (v === undefined) return DEFAULT_ESTIMATORS;
  return checkEstimators(v.split(',').map((s) => s.trim()).filter((s) => s !== ''), 'estimators');
}

export interface OpeCliResult extends OpeResult {
  policy: string;
  log: { source: string; format: string; sha256?: string; records: number; actions: number };
  rewardModel: { name: string; folds: number; seed: number } | null;
  bootstrap: number;
  seed: number;
  /** The logged (behaviour) policy's own mean reward, for reference. */
  loggedMean: number;
  slates?: SlateResult;
}

export async function runOpe(flags: OpeFlags): Promise<OpeCliResult> {
  if (!flags.log) throw new ConfigError('give --log <file|store-url>', 'log');
  if (!flags.policy) throw new ConfigError('give --policy <name|file>', 'policy');
  const format = oneOf(flags.format, FORMATS, 'format');
  const estimators = parseEstimators(flags.estimators);
  const epsilon = numberFlag(flags.epsilon, 'epsilon') ?? 0;
  const folds = intFlag(flags.folds, 'folds', 1) ?? 5;
  const bootstrap = intFlag(flags.bootstrap, 'bootstrap', 0) ?? 1000;
  const seed = intFlag(flags.seed, 'seed', 0) ?? 0;
  const rewardModel = flags.rewardModel ?? 'ridge';
  checkRewardModel(rewardModel, 'reward-model');
  const data = await readLog(flags.log, format);
  const policy = await resolvePolicy(flags.policy, data, epsilon, flags);
  const r = runEstimators(data, policy, {
    estimators,
    rewardModel,
    rewardParams: parseParams(flags.rewardParam),
    folds,
    bootstrap,
    seed,
    clip: numberFlag(flags.clip, 'clip'),
    tau: numberFlag(flags.tau, 'tau'),
  });
  const out: OpeCliResult = {
    estimates: r.estimates,
    n: r.n,
    ess: r.ess,
    maxWeight: r.maxWeight,
    policy: policy.name,
    log: { source: data.source, format: data.format, sha256: data.sha256, records: data.log.n, actions: data.actionIds.length },
    rewardModel: r.rewardModel,
    bootstrap,
    seed,
    loggedMean: r.loggedMean,
  };
  if (r.slates) out.slates = r.slates;
  return out;
}

/** `--preset`: log with a behaviour agent in the simulator, estimate the target, and run it on-policy for the truth. */
export async function runPresetOpe(flags: OpeFlags): Promise<SimOpeResult> {
  if (flags.log) throw new ConfigError('give either --log or --preset, not both', 'preset');
  if (!flags.behaviour) throw new ConfigError('--preset needs --behaviour <agent>', 'behaviour');
  if (!flags.policy) throw new ConfigError('--preset needs --policy <agent>', 'policy');
  // The study fits its own per-slot reward model and uses the estimators' default clip and τ: the
  // log mode's settings would be silently ignored here, so they are refused.
  const logOnly = { format: flags.format, epsilon: flags.epsilon, 'reward-model': flags.rewardModel, 'reward-param': flags.rewardParam, folds: flags.folds, clip: flags.clip, tau: flags.tau, 'train-data': flags.trainData };
  const ignored = Object.entries(logOnly).find(([, v]) => v !== undefined);
  if (ignored) throw new ConfigError(`--${ignored[0]} applies to --log, not --preset`, ignored[0]);
  // A saved agent file as the target: it is evaluated as saved, under its own kind's name.
  const policyFile = /\.json$/i.test(flags.policy) && existsSync(flags.policy) ? flags.policy : undefined;
  if (policyFile && flags.policyParam?.length) throw new ConfigError('--policy-param does not apply to a saved agent file (it keeps its settings)', 'policy-param');
  return runSimOpe({
    preset: flags.preset!,
    behaviour: flags.behaviour,
    policy: policyFile ? readAgentFile(policyFile).agent.kind : flags.policy,
    ...(policyFile ? { policyFile } : {}),
    decisions: intFlag(flags.decisions, 'decisions', 1) ?? 50_000,
    seeds: intFlag(flags.seeds, 'seeds', 1) ?? 20,
    estimators: flags.estimators?.split(',').map((e) => e.trim()).filter((e) => e !== ''),
    dataDir: flags.data,
    bootstrap: intFlag(flags.bootstrap, 'bootstrap', 0),
    seed: intFlag(flags.seed, 'seed', 0),
    trainSteps: intFlag(flags.trainSteps, 'train-steps', 0),
    behaviourConfig: parseParams(flags.behaviourParam),
    policyConfig: parseParams(flags.policyParam),
  });
}

function fmtCi(ci: [number, number]): string {
  return Number.isNaN(ci[0]) ? '—' : `[${formatNumber(ci[0])}, ${formatNumber(ci[1])}]`;
}

export function register(program: Command): void {
  program
    .command('ope')
    .description("off-policy evaluation: estimate a target policy's value from a logged decision log")
    .option('--log <file|store-url>', 'the log: a Chorus OPE log (.jsonl), a GET /events export (.jsonl), an Open Bandit CSV, or a store URL (sqlite:./chorus.db)')
    .option('--format <format>', `log format: ${FORMATS.join(', ')} (default: from the file)`)
    .option('--policy <name|file>', 'target policy: uniform, affinity (OBD), a recommender name (with --train-data), a `chorus train` model file, or an action-probability file (.csv/.jsonl); with --preset, an agent name or a saved agent file (simulate --save-agent, train --agent)')
    .option('--epsilon <e>', 'soften the target: (1 − e)·π + e·uniform (default 0)')
    .option('--estimators <list>', `comma-separated: ${ESTIMATORS.join(', ')} (default ${DEFAULT_ESTIMATORS.join(',')})`)
    .option('--reward-model <name>', `reward model for DM/DR: ${listRegressors().map((r) => r.name).join(', ')} (default ridge)`)
    .option('--reward-param <key=value...>', 'reward model option (repeatable), e.g. --reward-param lambda=10')
    .option('--folds <k>', 'cross-fitting folds of the reward model (default 5)')
    .option('--bootstrap <n>', 'bootstrap resamples for the 95 % intervals (default 1000)')
    .option('--seed <n>', 'seed of the folds and the bootstrap (default 0)')
    .option('--clip <m>', 'weight cap of clipped-ips / clipped-dr (default 10)')
    .option('--tau <t>', 'weight threshold of switch-dr (default 10)')
    .option('--train-data <path>', 'data to fit a recommender target policy on (with --policy <recommender>)')
    .option('--preset <sim-preset>', 'instead of --log: log decisions in this simulator preset (e.g. sim-ml-ls-v1) and compare with the on-policy truth')
    .option('--behaviour <agent>', 'with --preset: the logging agent (e.g. egreedy)')
    .option('--decisions <n>', 'with --preset: logged decisions per seed (default 50000)')
    .option('--seeds <n>', 'with --preset: evaluation seeds (default 20)')
    .option('--data <dir>', "with --preset: the preset's data folder (default ../shared/datasets/ml-latest-small)")
    .option('--train-steps <n>', 'with --preset: user-steps of training for learning agents before they are frozen (default 20000)')
    .option('--behaviour-param <key=value...>', 'with --preset: behaviour agent option (repeatable)')
    .option('--policy-param <key=value...>', 'with --preset: target agent option (repeatable)')
    .action(async function (this: Command) {
      const flags = this.optsWithGlobals<OpeFlags>();
      const json = Boolean(flags.json);
      if (flags.preset !== undefined) {
        await withCleanStdout(json, async () => {
          const r = await runPresetOpe(flags);
          if (json) {
            writeJson(r);
            return;
          }
          const p = r.protocol;
          writeOut(`off-policy estimate of ${p.policy} from ${p.behaviour}'s log in ${p.preset}: ${p.decisions} decisions × ${p.seeds} seeds (${p.unit}), bootstrap ${p.bootstrap}, seed ${p.seed}`);
          writeOut(`on-policy truth ${formatNumber(r.truth.value)} ${fmtCi(r.truth.ci95)}; logged mean ${formatNumber(r.loggedMean)}`);
          const rows = Object.entries(r.estimates).map(([name, e]) => [name, formatNumber(e.value), fmtCi(e.ci95), formatNumber(r.relativeError[name] ?? NaN), formatNumber(r.coverage[name] ?? NaN), r.n, formatNumber(r.ess)]);
          writeOut(table(['estimator', 'value', '95 % CI', 'rel. error', 'coverage', 'n', 'ESS'], rows));
        });
        return;
      }
      await withCleanStdout(json, async () => {
        const r = await runOpe(flags);
        if (json) {
          writeJson(r);
          return;
        }
        writeOut(`off-policy estimate of ${r.policy} on ${r.log.source} (${r.log.format}, ${r.n} records, ${r.log.actions} actions; logged mean reward ${formatNumber(r.loggedMean)})`);
        writeOut(`reward model: ${r.rewardModel ? `${r.rewardModel.name}, ${r.rewardModel.folds}-fold cross-fit` : 'none'}; bootstrap ${r.bootstrap}, seed ${r.seed}`);
        const rows = Object.entries(r.estimates).map(([name, e]) => [name, formatNumber(e.value), fmtCi(e.ci95), r.n, formatNumber(r.ess)]);
        writeOut(table(['estimator', 'value', '95 % CI', 'n', 'ESS'], rows));
        writeOut(`largest importance weight ${formatNumber(r.maxWeight)}`);
        if (r.slates) {
          writeOut(`slates (K=${r.slates.K}):`);
          writeOut(table(['estimator', 'value', '95 % CI', 'n', 'ESS'], Object.entries(r.slates.estimates).map(([name, e]) => [name, formatNumber(e.value), fmtCi(e.ci95), r.slates!.n, formatNumber(r.slates!.ess)])));
        }
      });
    });
}
