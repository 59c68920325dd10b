/**
 * Fit a model on a train split, evaluate it on the test split and stamp the result: the common
 * body of every offline protocol runner (P1 here; P2 and later protocols reuse it).
 */
import type { Dataset } from '../data/dataset.js';
import type { Recommender } from '../recommenders/types.js';
import { createEvalModel, modelTakesSeed } from './models.js';
import type { ProtocolResult, ProtocolRunOptions } from './protocol.js';
import { evaluateRanking, type RankingEvalOptions } from './ranking.js';
import { isRatingPredictor, ratingErrors } from './rating.js';
import { codeVersion, SHA_PREFIX } from './stamp.js';
import { bootstrapMean } from './stats.js';

export interface SplitRunOptions {
  protocol: string;
  variant: string;
  /** Registry name, or a ready (unfitted) model. */
  model: string | Recommender;
  modelConfig?: Record<string, unknown>;
  train: Dataset;
  test: Dataset;
  /** Interaction file the split came from and its full sha256 (the stamp prints a prefix). */
  datasetFile: string;
  datasetSha256: string;
  /** The dataset's own name (default: the train split's dataset name before its ":train" suffix). */
  datasetName?: string;
  k: number;
  seed: number;
  bootstrap?: number;
  sampledNegatives?: number;
  perUser?: boolean;
  /** Pass-through of RankingEvalOptions (categories, users, catalogue). */
  evalOptions?: Pick<RankingEvalOptions, 'categories' | 'users' | 'catalogue'>;
  onProgress?: (phase: 'fit' | 'evaluate', done: number, total: number, unit: string) => void;
  /** Wall-clock start of the whole run (default: now), so loading time counts in the stamp. */
  startedAt?: number;
}

/** Metrics whose per-user values get bootstrap intervals. */
const INTERVAL_METRICS = ['ndcg', 'recall', 'precision', 'hr', 'map', 'mrr', 'f1'] as const;

export async function fitAndEvaluate(o: SplitRunOptions): Promise<ProtocolResult> {
  const started = o.startedAt ?? performance.now();
  const model = typeof o.model === 'string' ? createEvalModel(o.model, { ...seedFor(o.model, o.modelConfig, o.seed) }) : o.model;
  const t0 = performance.now();
  // CPU time beside wall time: the machines are shared, and worker threads count here too
  // (process.cpuUsage covers every thread of the process).
  const c0 = process.cpuUsage();
  await model.fit(o.train, { onProgress: o.onProgress ? (d, t, u) => o.onProgress!('fit', d, t, u) : undefined });
  const fitSeconds = (performance.now() - t0) / 1000;
  const fitCpuSeconds = cpuSecondsSince(c0);
  const c1 = process.cpuUsage();
  const r = evaluateRanking(model, o.train, o.test, {
    k: o.k,
    sampledNegatives: o.sampledNegatives,
    seed: o.seed,
    ...o.evalOptions,
    onProgress: o.onProgress ? (d, t, u) => o.onProgress!('evaluate', d, t, u) : undefined,
  });
  const evalCpuSeconds = cpuSecondsSince(c1);
  const metrics = { ...r.metrics };
  if (isRatingPredictor(model)) {
    // Explicit-rating models are also scored on the test ratings (RMSE/MAE over every test row).
    const e = ratingErrors(model, o.test);
    metrics.rmse = e.rmse;
    metrics.mae = e.mae;
  }
  const intervals: Record<string, { lo: number; hi: number }> = {};
  const samples = o.bootstrap ?? 1000;
  if (samples > 0) {
    const per = r.perUser;
    const arrays: Record<(typeof INTERVAL_METRICS)[number], Float64Array> = {
      ndcg: per.ndcg,
      recall: per.recall,
      precision: per.precision,
      hr: per.hr,
      map: per.ap,
      mrr: per.rr,
      f1: per.f1,
    };
    for (const name of INTERVAL_METRICS) {
      const iv = bootstrapMean(arrays[name], { samples, seed: o.seed });
      intervals[`${name}@${o.k}`] = { lo: iv.lo, hi: iv.hi };
    }
  }
  const hyperparameters = { ...model.config };
  const protocolLabel = r.candidates.mode === 'sampled' ? `${o.protocol}+sampled${r.candidates.negatives}` : o.protocol;
  const result: ProtocolResult = {
    protocol: o.protocol,
    variant: o.variant,
    model: model.kind,
    k: o.k,
    seed: o.seed,
    metrics,
    intervals: samples > 0 ? intervals : undefined,
    fitSeconds,
    evalSeconds: r.evalSeconds,
    fitCpuSeconds,
    evalCpuSeconds,
    users: r.users,
    candidates: r.candidates,
    hyperparameters,
    split: splitCounts(o.train, o.test),
    stamp: {
      protocol: protocolLabel,
      dataset: { name: o.datasetName ?? o.train.name.replace(/:.*$/, ''), file: o.datasetFile, sha256: o.datasetSha256.slice(0, SHA_PREFIX) },
      variant: o.variant,
      k: o.k,
      seeds: [o.seed],
      model: model.kind,
      hyperparameters,
      codeVersion: codeVersion(),
      wallSeconds: (performance.now() - started) / 1000,
      date: new Date().toISOString(),
    },
  };
  if (o.perUser ?? true) {
    result.perUser = r.perUser;
    result.perUserIds = Array.from(r.perUser.user, (u) => o.train.users.toExternal(u));
  }
  return result;
}

/** What a protocol decided (its split and the data's identity); the run options supply the rest. */
export type ProtocolSplit = Pick<SplitRunOptions, 'protocol' | 'variant' | 'train' | 'test' | 'datasetFile' | 'datasetSha256' | 'datasetName'>;

/** `fitAndEvaluate` for a protocol runner: the model, K, seed, bootstrap … come from the run's options. */
export function fitProtocolSplit(o: ProtocolRunOptions & { k: number; seed: number }, split: ProtocolSplit, startedAt: number): Promise<ProtocolResult> {
  return fitAndEvaluate({
    ...split,
    model: o.model,
    modelConfig: o.modelConfig,
    k: o.k,
    seed: o.seed,
    bootstrap: o.bootstrap,
    sampledNegatives: o.sampledNegatives,
    perUser: o.perUser,
    onProgress: o.onProgress,
    startedAt,
  });
}

/** CPU seconds of this process (every thread) since `start`. */
export function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(start);
  return (c.user + c.system) / 1e6;
}

/**
 * Seeded models take the run's seed unless the config sets one: a protocol's `--seed` then
 * reaches BPR's sampler, ALS's initialisation and so on, and the stamp's seed is the one used.
 */
function seedFor(name: string, config: Record<string, unknown> | undefined, seed: number): Record<string, unknown> {
  const c = { ...(config ?? {}) };
  if (c.seed === undefined && modelTakesSeed(name)) c.seed = seed;
  return c;
}

/** Active users and items (≥ 1 interaction in train or test) and the row counts of each part. */
function splitCounts(train: Dataset, test: Dataset): ProtocolResult['split'] {
  const active = (a: Int32Array, b: Int32Array) => {
    let n = 0;
    for (let i = 0; i < a.length; i++) if (a[i]! + b[i]! > 0) n++;
    return n;
  };
  return {
    users: active(train.userCounts(), test.userCounts()),
    items: active(train.itemCounts(), test.itemCounts()),
    train: train.nInteractions,
    test: test.nInteractions,
  };
}
