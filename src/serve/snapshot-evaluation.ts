/**
 * Off-policy evaluation of a model snapshot against the live decision log, before it is served
 * (`POST /snapshots/{id}/evaluate`), and the activation gate built on it.
 *
 * - The log: the most recent `limit` decisions in the store whose reward window has closed (those
 *   at or after `since`, when given), each with the reward the online learner took from it
 *   (./decision-window.ts: in-window feedback, the server's default reward where none came),
 *   read as `chorus ope` reads a `GET /events` export (src/ope/logs.ts: a Rank decision's
 *   candidates are its actions; a recommend decision's are every item the window's recommend
 *   decisions showed, its bandit record is slot 1). Decisions still inside their reward window
 *   are left out and counted (`window.open`).
 * - The candidate's target policy: the snapshot's recommender ranking over each record's
 *   candidates (src/ope/recommender-policy.ts), softened by ε: (1 − ε)·ranking + ε·uniform. A
 *   deterministic ranking gives every logged action it does not pick weight 0: on a log where the
 *   candidate never agrees with the behaviour, SNIPS is 0/0 and IPS/DR rest on a handful of
 *   records. ε = 0.05 keeps every logged decision in the estimate (weight ≥ ε/(m·μ)) while moving
 *   the estimated value at most 5 % of the way toward the uniform policy's.
 * - The gate compares like with like: DR of the candidate's ranking minus DR of the active
 *   snapshot's ranking, both softened by the same ε, on the same records with the same reward
 *   predictions and the same bootstrap resamples (src/ope/paired-dr.ts). The candidate passes
 *   when the 95 % lower bound of that difference is above 0. (The active side is not the served
 *   stack's on-policy mean: the stack adds the bandit's exploration and re-ranking to the ranking,
 *   so candidate and active would be measured on different things.)
 * - For information, `activeEstimate`: the mean reward of the window's decisions served under the
 *   active snapshot (its on-policy value, with a seeded bootstrap interval); when none were, the
 *   DR estimate of its ranking (the gate's `active`), and `how` says which.
 *
 * The work runs on the server's thread: it yields to the event loop between its heavy phases
 * (reading, each cross-fitting fold, the candidate's estimators, the paired bootstrap's chunks).
 * The candidate is decoded from the store on its own; the served model is only read, never
 * replaced.
 */
import { ChorusError } from '../errors.js';
import { bootstrapTerms, type Estimate, type EstimatorName } from '../ope/estimators.js';
import type { OpeDataset } from '../ope/logs.js';
import { pairedDr } from '../ope/paired-dr.js';
import { softened, targetProbabilities, type TargetPolicy } from '../ope/policies.js';
import { recommenderPolicy } from '../ope/recommender-policy.js';
import { DEFAULT_ESTIMATORS, rewardPredictionsYielding, runEstimators, type OpeRun } from '../ope/run.js';
import type { EventStore, SnapshotMeta } from '../store/types.js';
import { readWindow, windowDataset } from './decision-window.js';
import type { ServedModel } from './model.js';

export interface EvaluationOptions {
  estimators: readonly EstimatorName[];
  /** Softening of the candidate's ranking toward uniform (see the file comment for the default). */
  epsilon: number;
  /** Only decisions logged at or after this time (unix ms); null: no lower bound. */
  since: number | null;
  /** The most recent decisions read. */
  limit: number;
  rewardModel: string;
  folds: number;
  bootstrap: number;
  seed: number;
}

export const EVALUATION_DEFAULTS: EvaluationOptions = {
  estimators: DEFAULT_ESTIMATORS,
  epsilon: 0.05,
  since: null,
  limit: 50_000,
  rewardModel: 'ridge',
  folds: 5,
  bootstrap: 1000,
  // Fixed, so that the same log and snapshot give the same estimates and the same gate decision.
  seed: 0,
};

export type ActivationGate = 'dr' | 'none';

export interface SnapshotEvaluation {
  snapshot: string;
  active: string;
  policy: string;
  epsilon: number;
  n: number;
  /**
   * Decisions read from the store (before unusable ones were left out) and their time span (unix
   * ms); `until`: only decisions logged at or before it (now − the reward wait) were read; `open`:
   * newer ones left out because their reward window was still open.
   */
  window: { decisions: number; since: number | null; from: number | null; to: number | null; until: number; open: number };
  ess: number;
  maxWeight: number;
  loggedMean: number;
  estimates: OpeRun['estimates'];
  rewardModel: OpeRun['rewardModel'];
  bootstrap: number;
  seed: number;
  activeEstimate: Estimate & { how: 'on-policy' | 'dr-of-ranking'; n: number; note: string };
  /** DR of the candidate's ranking, of the active snapshot's ranking, and their paired difference; passes when the difference's lower bound is > 0. */
  gate: { estimator: 'dr'; candidate: Estimate; active: Estimate; difference: Estimate; passes: boolean };
}

/** What an evaluation reads: the decision log, the snapshot being served, and a way to load another one without serving it. */
export interface EvaluationContext {
  events: EventStore;
  /** The engine's reward windows (rewardWaitSeconds × 1000, defaultReward) and the time of the evaluation (unix ms). */
  rewards: { waitMs: number; defaultReward: number };
  now: number;
  active: { meta: SnapshotMeta; model: ServedModel };
  /** Decode a stored snapshot (NotFoundError when unknown); must not change what is served. */
  load(id: string): Promise<{ meta: SnapshotMeta; model: ServedModel }>;
}

/** The activation gate refused a snapshot (409): carries the evaluation that refused it. */
export class ActivationRefusedError extends ChorusError {
  constructor(
    readonly snapshot: SnapshotMeta,
    readonly evaluation: SnapshotEvaluation,
  ) {
    // No location: it would prefix the message, which is meant to read as the verdict itself (the answer names the field).
    super('E_ACTIVATION_REFUSED', gateMessage(evaluation), { status: 409 });
  }
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(4) : String(x);
}

/** The gate's verdict in words. */
export function gateMessage(e: SnapshotEvaluation): string {
  const d = e.gate.difference;
  const head = `DR of the candidate minus DR of the active ranking: ${fmt(d.value)} [${fmt(d.ci95[0])}, ${fmt(d.ci95[1])}]`;
  if (e.gate.passes) return `${head}; the lower bound exceeds 0`;
  const why = Number.isNaN(d.ci95[0]) ? ' (no interval: bootstrap is 0)' : '';
  return `${head}; the lower bound does not exceed 0${why}`;
}

/** The options with a default for every one left out or undefined (extra keys, such as an activation's `gate`, are dropped). */
function withDefaults(options: Partial<EvaluationOptions>): EvaluationOptions {
  const d = EVALUATION_DEFAULTS;
  return {
    estimators: options.estimators ?? d.estimators,
    epsilon: options.epsilon ?? d.epsilon,
    since: options.since ?? d.since,
    limit: options.limit ?? d.limit,
    rewardModel: options.rewardModel ?? d.rewardModel,
    folds: options.folds ?? d.folds,
    bootstrap: options.bootstrap ?? d.bootstrap,
    seed: options.seed ?? d.seed,
  };
}

function candidatePolicy(id: string, model: ServedModel, data: OpeDataset, epsilon: number): TargetPolicy {
  return softened(recommenderPolicy(`snapshot:${id}`, model.rec, model.userIds, model.itemIds, data), epsilon, data);
}

/** `policy` with its probabilities computed once: the estimators and the paired DR read the same array (scoring every record twice would double the work). */
function precomputed(policy: TargetPolicy, data: OpeDataset): { policy: TargetPolicy; target: Float64Array } {
  const target = targetProbabilities(policy, data);
  const { indptr } = data.log;
  const slots = policy.slotProbabilities;
  return {
    target,
    policy: {
      name: policy.name,
      probabilities: (record, out) => out.set(target.subarray(indptr[record]!, indptr[record + 1]!)),
      ...(slots ? { slotProbabilities: (slate: number, out: Float64Array) => slots.call(policy, slate, out) } : {}),
    },
  };
}

/** Let the event loop run (requests, timers) between heavy phases of an evaluation. */
const pause = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Evaluate snapshot `id` on the live log (see the file comment). 404 for an unknown snapshot,
 * 409 when the window holds no usable decisions.
 */
export async function evaluateSnapshot(ctx: EvaluationContext, id: string, options: Partial<EvaluationOptions> = {}): Promise<SnapshotEvaluation> {
  const o = withDefaults(options);
  const active = ctx.active;
  const candidate = id === active.meta.id ? active : await ctx.load(id);
  const until = ctx.now - ctx.rewards.waitMs;
  const w = await readWindow(ctx.events, { since: o.since, limit: o.limit, until, ...ctx.rewards });
  const data = windowDataset(w, o);
  // DR comes from the paired gate below (the same numbers, one bootstrap instead of two).
  const estimators: EstimatorName[] = o.estimators.filter((e) => e !== 'dr');
  const run = { estimators, rewardModel: o.rewardModel, folds: o.folds, bootstrap: o.bootstrap, seed: o.seed };
  await pause();
  // One cross-fitted reward model serves the candidate's estimators and both sides of the gate.
  const predicted = await rewardPredictionsYielding(data, run, pause);
  await pause();
  const cand = precomputed(candidatePolicy(id, candidate.model, data, o.epsilon), data);
  await pause();
  const r = runEstimators(data, cand.policy, run, predicted);
  await pause();
  const activeTarget = id === active.meta.id ? cand.target : targetProbabilities(candidatePolicy(active.meta.id, active.model, data, o.epsilon), data);
  await pause();
  const gate = await pairedDr(data.log, cand.target, activeTarget, predicted, { bootstrap: o.bootstrap, seed: o.seed }, pause);
  const lower = gate.difference.ci95[0];
  return {
    snapshot: id,
    active: active.meta.id,
    policy: cand.policy.name,
    epsilon: o.epsilon,
    n: r.n,
    window: { decisions: w.events.length, since: o.since, from: w.from, to: w.to, until, open: w.open },
    ess: r.ess,
    maxWeight: r.maxWeight,
    loggedMean: r.loggedMean,
    // In the order asked for (DR last when it was not asked for), DR from the gate.
    estimates: Object.fromEntries((o.estimators.includes('dr') ? o.estimators : [...o.estimators, 'dr' as const]).map((e: EstimatorName) => [e, e === 'dr' ? gate.a : r.estimates[e]!])) as OpeRun['estimates'],
    rewardModel: r.rewardModel,
    bootstrap: o.bootstrap,
    seed: o.seed,
    activeEstimate: onPolicy(data, w.snapshotOf, active.meta.id, o) ?? {
      ...gate.b,
      how: 'dr-of-ranking',
      n: r.n,
      note: `no decision in the window was served under snapshot ${active.meta.id}: DR estimate of its own ranking (ε = ${o.epsilon})`,
    },
    gate: { estimator: 'dr', candidate: gate.a, active: gate.b, difference: gate.difference, passes: Number.isFinite(lower) && lower > 0 },
  };
}

/** The active stack's on-policy value: the mean reward of the window's decisions served under it (null when none were). */
function onPolicy(data: OpeDataset, snapshotOf: ReadonlyMap<string, string | null>, id: string, o: EvaluationOptions): SnapshotEvaluation['activeEstimate'] | null {
  let m = 0;
  for (let i = 0; i < data.log.n; i++) if (snapshotOf.get(data.recordIds[i]!) === id) m++;
  if (m === 0) return null;
  const num = new Float64Array(m);
  for (let i = 0, j = 0; i < data.log.n; i++) if (snapshotOf.get(data.recordIds[i]!) === id) num[j++] = data.log.reward[i]!;
  const { mean } = bootstrapTerms([{ name: 'mean', num, den: null }], m, { bootstrap: o.bootstrap, seed: o.seed });
  return { ...mean, how: 'on-policy', n: m, note: `mean reward of the ${m} decisions served under snapshot ${id} in the window (the whole serving stack; for information, the gate compares rankings)` };
}
