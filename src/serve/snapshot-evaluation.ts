/**
 * Off-policy evaluation of a model snapshot against the live decision log, before it is served
 * (`POST /snapshots/{id}/evaluate`), and the activation gate built on it.
 *
 * - The log: the most recent `limit` decisions in the store (those at or after `since`, when
 *   given), read as `chorus ope` reads a `GET /events` export (src/ope/logs.ts: a Rank decision's
 *   candidates are its actions; a recommend decision's are every item the window's recommend
 *   decisions showed, its bandit record is slot 1).
 * - The candidate's target policy: the snapshot's recommender ranking over each record's
 *   candidates (src/ope/recommender-policy.ts), softened by ε: (1 − ε)·ranking + ε·uniform. A
 *   deterministic ranking gives every logged action it does not pick weight 0: on a log where the
 *   candidate never agrees with the behaviour, SNIPS is 0/0 and IPS/DR rest on a handful of
 *   records. ε = 0.05 keeps every logged decision in the estimate (weight ≥ ε/(m·μ)) while moving
 *   the estimated value at most 5 % of the way toward the uniform policy's.
 * - The active policy's value: the decisions logged under the active snapshot in the same window
 *   were chosen by the policy being served, so their mean reward is its on-policy value (with a
 *   seeded bootstrap interval over those decisions). When none were logged under it, the DR
 *   estimate of the active snapshot's own ranking (softened by the same ε) stands in, and `how`
 *   says so.
 * - The gate: the candidate passes when the lower end of its DR 95 % interval is above the active
 *   policy's value. DR is always computed (it is added to the estimators named) because the gate
 *   reads it.
 *
 * The candidate is decoded from the store on its own; the served model is only read (when the
 * candidate is the active snapshot, or for the fallback estimate), never replaced.
 */
import { ChorusError } from '../errors.js';
import { bootstrapTerms, type Estimate, type EstimatorName } from '../ope/estimators.js';
import { loggedEvent, opeDatasetFromEvents, type LoggedEvent, type OpeDataset } from '../ope/logs.js';
import { softened } from '../ope/policies.js';
import { recommenderPolicy } from '../ope/recommender-policy.js';
import { DEFAULT_ESTIMATORS, rewardPredictions, runEstimators, type OpeRun } from '../ope/run.js';
import type { DecisionRecord, EventStore, FeedbackRecord, SnapshotMeta } from '../store/types.js';
import { ConflictError } from './errors.js';
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
  /** Decisions read from the store (before unusable ones were left out), and their time span (unix ms). */
  window: { decisions: number; since: number | null; from: number | null; to: number | null };
  ess: number;
  maxWeight: number;
  loggedMean: number;
  estimates: OpeRun['estimates'];
  rewardModel: OpeRun['rewardModel'];
  bootstrap: number;
  seed: number;
  activeEstimate: Estimate & { how: 'on-policy' | 'dr-of-ranking'; n: number; note: string };
  gate: { estimator: 'dr'; lower: number; activeValue: number; passes: boolean };
}

/** What an evaluation reads: the decision log, the snapshot being served, and a way to load another one without serving it. */
export interface EvaluationContext {
  events: EventStore;
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
  const g = e.gate;
  if (g.passes) return `DR lower bound ${fmt(g.lower)} beats the active policy's estimate ${fmt(g.activeValue)}`;
  const why = Number.isNaN(g.lower) ? ' (no interval: bootstrap is 0)' : '';
  return `DR lower bound ${fmt(g.lower)} does not beat the active policy's estimate ${fmt(g.activeValue)}${why}`;
}

/** Feedback is fetched in pages of event ids, so a query's parameter list stays small. */
const FEEDBACK_PAGE = 5000;

interface DecisionWindow {
  events: { event: LoggedEvent }[];
  snapshotOf: Map<string, string | null>;
  from: number | null;
  to: number | null;
}

/** The most recent `limit` decisions (at or after `since`) with their feedback, oldest first. */
async function readWindow(events: EventStore, since: number | null, limit: number): Promise<DecisionWindow> {
  const recent: DecisionRecord[] = (await events.recentDecisions(limit)).filter((d) => since === null || d.ts >= since);
  recent.reverse();
  const byEvent = new Map<string, FeedbackRecord[]>();
  for (let k = 0; k < recent.length; k += FEEDBACK_PAGE) {
    const fb = await events.feedbackFor(recent.slice(k, k + FEEDBACK_PAGE).map((d) => d.id));
    for (const f of fb) if (f.eventId !== null) (byEvent.get(f.eventId) ?? byEvent.set(f.eventId, []).get(f.eventId)!).push(f);
  }
  return {
    events: recent.map((d) => ({ event: loggedEvent(d, byEvent.get(d.id) ?? []) })),
    snapshotOf: new Map(recent.map((d) => [d.id, d.snapshotId])),
    from: recent.length > 0 ? recent[0]!.ts : null,
    to: recent.length > 0 ? recent[recent.length - 1]!.ts : null,
  };
}

/** Whether `opeDatasetFromEvents` keeps a decision (the rule it applies, counted before it throws on none). */
function usable(e: LoggedEvent): boolean {
  return e.activated && e.items.length > 0 && e.propensities[0]! > 0 && e.propensities[0]! <= 1;
}

/** The window as an OPE dataset, or a 409 that says why there is nothing to evaluate. */
function windowDataset(w: DecisionWindow, o: EvaluationOptions): OpeDataset {
  const n = w.events.filter((e) => usable(e.event)).length;
  const where = o.since !== null ? ` since ${new Date(o.since).toISOString()}` : '';
  if (n === 0) {
    throw new ConflictError(
      w.events.length === 0
        ? `the decision log holds no decisions${where} to evaluate against`
        : `none of the ${w.events.length} logged decisions${where} is usable (not activated, or no logging propensity)`,
      o.since !== null ? 'since' : undefined,
    );
  }
  if (n < o.folds) throw new ConflictError(`only ${n} usable logged decisions${where}: the reward model's cross-fitting needs at least ${o.folds} (folds)`, 'folds');
  const cells = candidateCells(w.events);
  if (cells > MAX_CANDIDATE_CELLS) {
    throw new ConflictError(
      `the window's ${n} decisions have ${cells} (decision, candidate) pairs (a recommend decision's candidates are every item the window's slates showed), more than ${MAX_CANDIDATE_CELLS}: give a smaller limit or a later since`,
      'limit',
    );
  }
  return opeDatasetFromEvents(w.events, 'store:decisions');
}

/**
 * Most (decision, candidate) pairs an evaluation builds. Every pair holds a few doubles (π, q̂, the
 * reward model's rows) and the work runs on the server's thread, so a window past this is refused
 * rather than left to exhaust memory: 20 M pairs are about 160 MB per array.
 */
const MAX_CANDIDATE_CELLS = 20_000_000;

/** (decision, candidate) pairs `opeDatasetFromEvents` would build: a Rank's actions, or every shown item for a recommend slate. */
function candidateCells(events: readonly { event: LoggedEvent }[]): number {
  const shown = new Set<string>();
  let rankCells = 0;
  let slates = 0;
  for (const { event: e } of events) {
    if (e.kind === 'recommend') for (const id of e.items) shown.add(id);
    if (!usable(e)) continue;
    if (e.kind === 'rank') rankCells += e.items.length;
    else slates++;
  }
  return rankCells + slates * shown.size;
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

function candidatePolicy(id: string, model: ServedModel, data: OpeDataset, epsilon: number) {
  return softened(recommenderPolicy(`snapshot:${id}`, model.rec, model.userIds, model.itemIds, data), epsilon, data);
}

/**
 * Evaluate snapshot `id` on the live log (see the file comment). 404 for an unknown snapshot,
 * 409 when the window holds no usable decisions.
 */
export async function evaluateSnapshot(ctx: EvaluationContext, id: string, options: Partial<EvaluationOptions> = {}): Promise<SnapshotEvaluation> {
  const o = withDefaults(options);
  const active = ctx.active;
  const candidate = id === active.meta.id ? active : await ctx.load(id);
  const w = await readWindow(ctx.events, o.since, o.limit);
  const data = windowDataset(w, o);
  const estimators: EstimatorName[] = o.estimators.includes('dr') ? [...o.estimators] : [...o.estimators, 'dr'];
  const run = { estimators, rewardModel: o.rewardModel, folds: o.folds, bootstrap: o.bootstrap, seed: o.seed };
  // One cross-fitted reward model serves the candidate and, when needed, the active ranking.
  const predicted = rewardPredictions(data, run);
  const policy = candidatePolicy(id, candidate.model, data, o.epsilon);
  const r = runEstimators(data, policy, run, predicted);
  const activeEstimate = estimateActive(data, w.snapshotOf, active, o, predicted);
  const dr = r.estimates.dr!;
  const lower = dr.ci95[0];
  return {
    snapshot: id,
    active: active.meta.id,
    policy: policy.name,
    epsilon: o.epsilon,
    n: r.n,
    window: { decisions: w.events.length, since: o.since, from: w.from, to: w.to },
    ess: r.ess,
    maxWeight: r.maxWeight,
    loggedMean: r.loggedMean,
    estimates: r.estimates,
    rewardModel: r.rewardModel,
    bootstrap: o.bootstrap,
    seed: o.seed,
    activeEstimate,
    gate: { estimator: 'dr', lower, activeValue: activeEstimate.value, passes: Number.isFinite(lower) && lower > activeEstimate.value },
  };
}

/** The active policy's value: its on-policy mean where it logged decisions, else DR of its ranking. */
function estimateActive(data: OpeDataset, snapshotOf: ReadonlyMap<string, string | null>, active: EvaluationContext['active'], o: EvaluationOptions, predicted: Float64Array): SnapshotEvaluation['activeEstimate'] {
  const id = active.meta.id;
  let m = 0;
  for (let i = 0; i < data.log.n; i++) if (snapshotOf.get(data.recordIds[i]!) === id) m++;
  if (m > 0) {
    const num = new Float64Array(m);
    for (let i = 0, j = 0; i < data.log.n; i++) if (snapshotOf.get(data.recordIds[i]!) === id) num[j++] = data.log.reward[i]!;
    const { mean } = bootstrapTerms([{ name: 'mean', num, den: null }], m, { bootstrap: o.bootstrap, seed: o.seed });
    return { ...mean, how: 'on-policy', n: m, note: `mean reward of the ${m} decisions served under snapshot ${id} in the window` };
  }
  const run = { estimators: ['dr'] as EstimatorName[], rewardModel: o.rewardModel, folds: o.folds, bootstrap: o.bootstrap, seed: o.seed };
  const r = runEstimators(data, candidatePolicy(id, active.model, data, o.epsilon), run, predicted);
  return { ...r.estimates.dr!, how: 'dr-of-ranking', n: r.n, note: `no decision in the window was served under snapshot ${id}: DR estimate of its own ranking (ε = ${o.epsilon})` };
}
