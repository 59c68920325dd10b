/**
 * Off-policy evaluation against simulator truth (issue 17, `chorus ope --preset …`): log N decisions
 * with a behaviour agent in a simulator preset, estimate a target agent's value from that log, run
 * the target on-policy for N decisions on independent seeds for the truth, and compare, per seed.
 *
 * Protocol (docs/benchmarks.md, "Off-policy evaluation in the simulator"):
 * - A decision is the first slate of a fresh session: the context (user, opening history) is drawn
 *   from the preset the same way whatever the policy, so "the target's mean reward per decision"
 *   is one well-defined number that logged and on-policy decisions share. Later steps of a session
 *   depend on the earlier slates (satiation, patience, drift), which per-decision estimators do not
 *   correct for; they are left out rather than reported with a bias nobody measured.
 * - Both agents are created from the registry, trained (learners only) for `trainSteps` user-steps
 *   with the simulator's own training loop on seeds disjoint from the evaluation seeds, then frozen:
 *   no agent learns while logging or while the truth is measured. The behaviour keeps its
 *   exploration (training mode); the target is evaluated as it would be deployed (evaluation mode)
 *   unless `policyMode` says otherwise. `policyFromBehaviour` makes the target the frozen behaviour
 *   itself with `policyConfig` applied (a what-if on the logging policy's own knobs, e.g. ε).
 * - Both agents must expose their exact slate distribution (`Agent.slateDistribution`); the others
 *   (Thompson sampling, DDPG, the softmax learners, whose candidates are drawn at random) are refused.
 *
 * Estimators:
 * - `dm`, `ips`, `snips`, `dr` (and the clipped/switch variants) treat the whole slate as one action,
 *   μ(s | x) the behaviour's probability of the logged ordered slate and π(s | x) the target's. That
 *   is unbiased whatever the user's choice model, at the price of weights that are zero unless the
 *   target could show the very slate logged. (Taking the first slot alone as the action would not be:
 *   under the simulator's multinomial-logit choice a slot's clicks depend on the other slots.)
 *   The reward model of DM/DR is additive over slots, q̂(x, s) = Σ_j q̂_j(s_j), each q̂_j(a) the
 *   shrunk mean reward of slot j when it showed a, fitted out of fold (./cross-fit.ts's folds).
 * - `position-ips` and `pseudo-inverse` (./slates.ts) use each slot's marginal probabilities; they
 *   assume slot-wise (respectively additive) rewards, which the simulator violates, so their bias is
 *   part of what this study measures.
 */
import { createAgent, restoreAgent, agentEntry } from '../agents/registry.js';
import type { ManagedAgent, SavedAgent } from '../agents/base.js';
import type { SlateDistribution } from '../agents/types.js';
import type { Observation } from '../env/types.js';
import { createVecEnv } from '../env/presets.js';
import { readAgentFile } from '../agents/agent-file.js';
import { ConfigError, DataError } from '../errors.js';
import { SeedRun, type SimSetup } from '../eval/sim/runner.js';
import { buildSetup } from '../eval/sim/setup.js';
import { meanCi } from '../eval/sim/stats.js';
import { Rng } from '../util/rng.js';
import { foldAssignment } from './cross-fit.js';
import { ESTIMATORS, estimate, importanceWeightStats, type BanditLog, type Estimate, type EstimatorName } from './estimators.js';
import { SLATE_ESTIMATORS, slateEstimates, type SlateEstimatorName, type SlateLog } from './slates.js';

export const SIM_OPE_DEFAULT_ESTIMATORS = ['dm', 'ips', 'snips', 'dr', 'position-ips', 'pseudo-inverse'] as const;

export interface SimOpeOptions {
  preset: string;
  behaviour: string;
  policy: string;
  /** Logged decisions per seed (and as many on-policy decisions for the truth). */
  decisions: number;
  /** Evaluation seeds (each: its own log, estimate, truth run and bootstrap). */
  seeds: number;
  estimators?: string[];
  /** Data folder of the preset (default ../shared/datasets/ml-latest-small). */
  dataDir?: string;
  /** Bootstrap resamples per seed (default 500). */
  bootstrap?: number;
  /** Base seed: evaluation seed s uses streams derived from (seed, s). */
  seed?: number;
  behaviourConfig?: Record<string, unknown>;
  policyConfig?: Record<string, unknown>;
  /** User-steps of training for each learning agent before it is frozen (default 20,000). */
  trainSteps?: number;
  /** The target acts as deployed ('evaluation', default) or with its exploration ('training'). */
  policyMode?: 'evaluation' | 'training';
  /** The target is the frozen behaviour with `policyConfig` applied (`policy` must name the same agent). */
  policyFromBehaviour?: boolean;
  /**
   * The target is this saved agent file (`chorus simulate --save-agent`, `chorus train --agent`),
   * as it was saved, not trained here; it must have been trained on this preset's data (the same
   * item list). `policy` is then its kind.
   */
  policyFile?: string;
  /** A built simulator setup (tests use a toy world); default `buildSetup({ preset, dataDir })`. */
  setup?: SimSetup;
  /** Sessions stepped side by side (default 1000). */
  batch?: number;
}

export interface SimOpeSeed {
  seed: number;
  estimates: Record<string, Estimate>;
  truth: Estimate;
  /** Mean reward per decision of the behaviour's own log. */
  loggedMean: number;
  /** Kish's effective sample size of the whole-slate weights. */
  ess: number;
  /** Share of logged decisions whose slate the target could show (π(s | x) > 0). */
  support: number;
}

export interface SimOpeResult {
  protocol: { preset: string; behaviour: string; policy: string; decisions: number; seeds: number; trainSteps: number; policyMode: 'evaluation' | 'training'; unit: string; seed: number; bootstrap: number };
  /** Mean over seeds of each estimate, with a Student-t 95 % interval over seeds (one seed: its bootstrap interval). */
  estimates: Record<string, Estimate>;
  /** Logged decisions per seed. */
  n: number;
  /** Mean over seeds of the whole-slate weights' effective sample size. */
  ess: number;
  /** On-policy mean reward per decision, all seeds pooled, with a normal 95 % interval. */
  truth: Estimate;
  /** |mean estimate − truth| / |truth| per estimator. */
  relativeError: Record<string, number>;
  /** Mean over seeds of |estimate − truth| / |truth|: the error one run of N decisions makes. */
  seedRelativeError: Record<string, number>;
  /** Share of seeds whose bootstrap interval covers the pooled truth. */
  coverage: Record<string, number>;
  /** The behaviour's mean reward per logged decision (all seeds). */
  loggedMean: number;
  support: number;
  perSeed: SimOpeSeed[];
}

const DEFAULT_DATA = '../shared/datasets/ml-latest-small';

/** A seed for stream `k` of evaluation seed `s` (disjoint from the training seeds, which are ≥ 2^30). */
function streamSeed(base: number, s: number, k: number): number {
  return (Math.imul(base + 1, 0x9e3779b1) ^ Math.imul(s + 1, 0x85ebca6b) ^ Math.imul(k + 1, 0xc2b2ae35)) & 0x3fffffff;
}

function checkOptions(o: SimOpeOptions): { bandit: EstimatorName[]; slate: SlateEstimatorName[]; names: string[] } {
  for (const [field, v] of [['decisions', o.decisions], ['seeds', o.seeds]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${field} must be a positive integer, got ${v}`, field);
  }
  if (o.trainSteps !== undefined && !(Number.isInteger(o.trainSteps) && o.trainSteps >= 0)) throw new ConfigError(`trainSteps must be an integer ≥ 0, got ${o.trainSteps}`, 'trainSteps');
  if (o.policyFromBehaviour && o.policy !== o.behaviour) throw new ConfigError(`policyFromBehaviour needs the policy to be the behaviour agent "${o.behaviour}", got "${o.policy}"`, 'policy');
  const names = o.estimators ?? [...SIM_OPE_DEFAULT_ESTIMATORS];
  const bandit: EstimatorName[] = [];
  const slate: SlateEstimatorName[] = [];
  for (const e of names) {
    if ((ESTIMATORS as readonly string[]).includes(e)) bandit.push(e as EstimatorName);
    else if ((SLATE_ESTIMATORS as readonly string[]).includes(e)) slate.push(e as SlateEstimatorName);
    else throw new ConfigError(`unknown estimator "${e}" (known: ${[...ESTIMATORS, ...SLATE_ESTIMATORS].join(', ')})`, 'estimators');
  }
  if (names.length === 0) throw new ConfigError('no estimator named', 'estimators');
  return { bandit, slate, names };
}

/** Refuse an agent whose slate distribution is not available in closed form. */
function distributionOf(agent: ManagedAgent, role: 'behaviour' | 'policy', obs: Observation, k: number): SlateDistribution {
  if (!agent.slateDistribution) {
    throw new ConfigError(
      `${role} agent "${agent.name}" does not expose an exact slate distribution (its draw has no closed form), so its propensities cannot be computed; use one of the agents that do (random, popularity, greedy-als, egreedy, ucb, linucb)`,
      role,
      'E_NO_DISTRIBUTION',
    );
  }
  return agent.slateDistribution(obs, k);
}

/** Train (learners only) on seeds disjoint from the evaluation seeds, then return the frozen state. */
function trainFrozen(setup: SimSetup, name: string, config: Record<string, unknown>, trainSteps: number, seed: number): SavedAgent {
  const learns = agentEntry(name).learns;
  const trainSeed = (1 << 30) + (seed & 0xfffff);
  if (!learns || trainSteps === 0) return createAgent(name, setup.ctx, { ...config, seed: trainSeed }).toJSON();
  const run = new SeedRun(setup, { agent: name, agentConfig: config, trainSteps, nEnvs: 32, curvePoints: 1 }, trainSeed);
  run.train(trainSteps);
  return run.agent.toJSON();
}

/** A frozen agent with its own random stream for one evaluation seed (the saved state is not changed). */
function instance(setup: SimSetup, saved: SavedAgent, rngSeed: number, training: boolean, config?: Record<string, unknown>): ManagedAgent {
  const state = { ...(saved.state as Record<string, unknown>), rng: new Rng(rngSeed).getState(), training };
  const a = restoreAgent({ ...saved, config: { ...(saved.config as Record<string, unknown>), ...(config ?? {}) }, state }, setup.ctx);
  a.setTraining(training);
  return a;
}

/** What one seed's log keeps of each decision. */
interface SeedLog {
  slates: SlateLog;
  /** μ(s_i | x_i) of the whole logged slate. */
  mu: Float64Array;
  /** π(s_i | x_i) of the whole logged slate. */
  pi: Float64Array;
  /** π_j(s_ij | x_i), for the slate estimators. */
  piSlot: Float64Array;
  /** The target's likeliest slate per decision (n × K; −1 where it has none). */
  mode: Int32Array;
  piMode: Float64Array;
  /** The target's slot supports (CSR over decision × slot): items, probabilities, and the rest's mass. */
  suppPtr: Int32Array;
  suppItem: Int32Array;
  suppProb: Float64Array;
  restMass: Float64Array;
  /** 1 where slot j showed the behaviour's greedy item (the rest were explored). */
  greedy: Uint8Array;
}

/** Log `n` first decisions of fresh sessions with the behaviour, reading the target's distribution for each. */
function logDecisions(setup: SimSetup, behaviour: ManagedAgent, target: ManagedAgent, n: number, envSeed: number, batch: number): SeedLog {
  const { world, config } = setup.preset;
  const K = config.slateSize;
  const slate = new Int32Array(n * K);
  const loggingMarginal = new Float64Array(n * K);
  const reward = new Float64Array(n * K);
  const mu = new Float64Array(n);
  const pi = new Float64Array(n);
  const piSlot = new Float64Array(n * K);
  const mode = new Int32Array(n * K).fill(-1);
  const piMode = new Float64Array(n);
  const suppPtr = new Int32Array(n * K + 1);
  const suppItem: number[] = [];
  const suppProb: number[] = [];
  const restMass = new Float64Array(n * K);
  const greedy = new Uint8Array(n * K);
  const streams = new Rng(envSeed);
  let i = 0;
  while (i < n) {
    const b = Math.min(batch, n - i);
    const env = createVecEnv(setup.preset, b, { autoReset: false });
    const obs = env.reset(streams.int(0x3fffffff));
    const buf = new Int32Array(b * K);
    const bDist: SlateDistribution[] = [];
    const props: Float32Array[] = [];
    for (let s = 0; s < b; s++) {
      const o = obs[s]!;
      const db = distributionOf(behaviour, 'behaviour', o, K);
      const dt = distributionOf(target, 'policy', o, K);
      const sl = behaviour.act(o, K);
      if (sl.items.length !== K) throw new DataError(`decision ${i + s}: the behaviour showed ${sl.items.length} items, the preset's slates have ${K}`, { field: 'slate' });
      buf.set(sl.items, s * K);
      bDist.push(db);
      props.push(sl.propensities ?? new Float32Array(K).fill(1));
      const r = i + s;
      mu[r] = db.slateProbability(sl.items);
      // The closed form must agree with what the agent logged (the product of its per-position
      // propensities): a mismatch would make every estimate here silently wrong.
      let logged = 1;
      for (let j = 0; j < K; j++) logged *= props[s]![j]!;
      if (!(Math.abs(mu[r]! - logged) <= 1e-4 * Math.max(mu[r]!, logged))) {
        throw new DataError(`decision ${r}: behaviour "${behaviour.name}" logged slate probability ${logged}, its distribution gives ${mu[r]}`, { field: 'propensities' });
      }
      pi[r] = dt.slateProbability(sl.items);
      if (dt.mode.length === K) {
        mode.set(dt.mode, r * K);
        piMode[r] = dt.slateProbability(dt.mode);
      }
      for (let j = 0; j < K; j++) {
        const a = sl.items[j]!;
        slate[r * K + j] = a;
        loggingMarginal[r * K + j] = db.slotProbability(j, a);
        piSlot[r * K + j] = dt.slotProbability(j, a);
        greedy[r * K + j] = db.mode[j] === a ? 1 : 0;
        const sup = dt.support(j);
        for (let q = 0; q < sup.items.length; q++) (suppItem.push(sup.items[q]!), suppProb.push(sup.probs[q]!));
        suppPtr[r * K + j + 1] = suppItem.length;
        restMass[r * K + j] = sup.restProbability * sup.restCount;
      }
    }
    const res = env.step(buf);
    for (let s = 0; s < b; s++) {
      const r = i + s;
      // Per-slot reward: the click's reward where it landed, and each shown item's share of the
      // exposure (λ·G) and attractiveness (α·A) parts, which are means over the slate; the slots
      // sum to the decision's reward.
      const lam = config.reward.lambda / K;
      const alp = config.reward.alpha / K;
      let sum = 0;
      for (let j = 0; j < K; j++) {
        const a = buf[s * K + j]!;
        const v = (res.clicks[s * K + j] ? res.R[s]! : 0) + lam * res.g[s * K + j]! + alp * world.attract[a]!;
        reward[r * K + j] = v;
        sum += v;
      }
    }
    i += b;
  }
  return {
    slates: { n, K, slate, loggingMarginal, reward },
    mu,
    pi,
    piSlot,
    mode,
    piMode,
    suppPtr,
    suppItem: Int32Array.from(suppItem),
    suppProb: Float64Array.from(suppProb),
    restMass,
    greedy,
  };
}

/**
 * The additive reward model q̂_j(a), fitted on the records of `train`: the mean reward of slot j
 * when it showed a, shrunk toward the slot's mean over explored (non-greedy) items with weight
 * `shrink`. Items never seen in a slot get that explored mean, which is what a uniformly drawn
 * item earns there on average.
 */
class SlotItemModel {
  private readonly sum = new Map<number, number>();
  private readonly cnt = new Map<number, number>();
  readonly fallback: Float64Array;

  constructor(
    private readonly log: SeedLog,
    train: ArrayLike<number>,
    private readonly shrink = 5,
  ) {
    const { K, slate, reward } = log.slates;
    const slotSum = new Float64Array(K);
    const slotN = new Float64Array(K);
    const expSum = new Float64Array(K);
    const expN = new Float64Array(K);
    for (let t = 0; t < train.length; t++) {
      const r = train[t]!;
      for (let j = 0; j < K; j++) {
        const k = r * K + j;
        const key = j * 0x1000000 + slate[k]!;
        this.sum.set(key, (this.sum.get(key) ?? 0) + reward[k]!);
        this.cnt.set(key, (this.cnt.get(key) ?? 0) + 1);
        slotSum[j] += reward[k]!;
        slotN[j] += 1;
        if (!log.greedy[k]) (expSum[j] += reward[k]!), (expN[j] += 1);
      }
    }
    this.fallback = Float64Array.from(slotSum, (s, j) => (expN[j]! > 0 ? expSum[j]! / expN[j]! : s / Math.max(1, slotN[j]!)));
  }

  q(j: number, a: number): number {
    const key = j * 0x1000000 + a;
    const c = this.cnt.get(key) ?? 0;
    return ((this.sum.get(key) ?? 0) + this.shrink * this.fallback[j]!) / (c + this.shrink);
  }
}

/**
 * The whole-slate bandit log: per decision the candidates [logged slate, the target's likeliest
 * slate (when different), every other slate lumped into one], with π over them and q̂ chosen so
 * that Σ π q̂ is the additive model's expectation under the target.
 */
function slateBandit(log: SeedLog, folds: Int32Array): { log: BanditLog; target: Float64Array; predicted: Float64Array } {
  const { n, K, slate } = log.slates;
  const train0: number[] = [];
  const train1: number[] = [];
  for (let r = 0; r < n; r++) (folds[r] === 0 ? train1 : train0).push(r);
  // The model for fold f is fitted on the other fold.
  const models = [new SlotItemModel(log, train0), new SlotItemModel(log, train1)];
  const indptr = new Int32Array(n + 1);
  const actions: number[] = [];
  const target: number[] = [];
  const predicted: number[] = [];
  const logged = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const m = models[folds[r]!]!;
    let qLogged = 0;
    let qMode = 0;
    let dm = 0;
    let sameAsMode = log.mode[r * K]! >= 0;
    for (let j = 0; j < K; j++) {
      const k = r * K + j;
      qLogged += m.q(j, slate[k]!);
      if (log.mode[r * K]! >= 0) qMode += m.q(j, log.mode[k]!);
      if (log.mode[k] !== slate[k]) sameAsMode = false;
      for (let t = log.suppPtr[k]!; t < log.suppPtr[k + 1]!; t++) dm += log.suppProb[t]! * m.q(j, log.suppItem[t]!);
      dm += log.restMass[k]! * m.fallback[j]!;
    }
    logged[r] = actions.length;
    actions.push(0);
    target.push(log.pi[r]!);
    predicted.push(qLogged);
    let explicitMass = log.pi[r]!;
    let explicitValue = log.pi[r]! * qLogged;
    if (log.mode[r * K]! >= 0 && !sameAsMode) {
      actions.push(1);
      target.push(log.piMode[r]!);
      predicted.push(qMode);
      explicitMass += log.piMode[r]!;
      explicitValue += log.piMode[r]! * qMode;
    }
    const rest = Math.max(0, 1 - explicitMass);
    actions.push(2);
    target.push(rest);
    predicted.push(rest > 1e-12 ? (dm - explicitValue) / rest : 0);
    indptr[r + 1] = actions.length;
  }
  const reward = new Float64Array(n);
  for (let r = 0; r < n; r++) for (let j = 0; j < K; j++) reward[r] += log.slates.reward[r * K + j]!;
  return {
    log: { n, indptr, actions: Int32Array.from(actions), logged, propensity: log.mu, reward },
    target: Float64Array.from(target),
    predicted: Float64Array.from(predicted),
  };
}

/** The target's on-policy mean reward per first decision over `n` fresh sessions, with a normal 95 % interval. */
function onPolicy(setup: SimSetup, target: ManagedAgent, n: number, envSeed: number, batch: number): { sum: number; sumSq: number; n: number } {
  const { config } = setup.preset;
  const K = config.slateSize;
  const streams = new Rng(envSeed);
  let sum = 0;
  let sumSq = 0;
  let i = 0;
  while (i < n) {
    const b = Math.min(batch, n - i);
    const env = createVecEnv(setup.preset, b, { autoReset: false });
    const obs = env.reset(streams.int(0x3fffffff));
    const buf = new Int32Array(b * K).fill(-1);
    for (let s = 0; s < b; s++) buf.set(target.act(obs[s]!, K).items.subarray(0, K), s * K);
    const res = env.step(buf);
    for (let s = 0; s < b; s++) (sum += res.rewards[s]!), (sumSq += res.rewards[s]! ** 2);
    i += b;
  }
  return { sum, sumSq, n };
}

function normalCi(sum: number, sumSq: number, n: number): Estimate {
  const mean = sum / n;
  const sd = Math.sqrt(Math.max(0, sumSq / n - mean * mean) * (n / Math.max(1, n - 1)));
  const h = (1.96 * sd) / Math.sqrt(n);
  return { value: mean, ci95: [mean - h, mean + h] };
}

/** A saved agent file as the target, checked against the setup's item list (its indices must mean the same items). */
function savedTarget(file: string, setup: SimSetup): SavedAgent {
  const warm = readAgentFile(file);
  const ids = setup.ids?.items;
  const same = ids !== undefined && ids.length === warm.space.itemIds.length && ids.every((id, i) => id === warm.space.itemIds[i]);
  if (!same) throw new ConfigError(`${file} was trained on another item list than this preset's data; save it from a run on the same data`, 'policy');
  return warm.agent;
}

export async function runSimOpe(o: SimOpeOptions): Promise<SimOpeResult> {
  const { bandit, slate, names } = checkOptions(o);
  const setup = o.setup ?? (await buildSetup({ preset: o.preset, dataDir: o.dataDir ?? DEFAULT_DATA }));
  const base = o.seed ?? 0;
  const trainSteps = o.trainSteps ?? 20_000;
  const bootstrap = o.bootstrap ?? 500;
  const batch = Math.max(1, o.batch ?? 1000);
  const policyMode = o.policyMode ?? 'evaluation';
  const bSaved = trainFrozen(setup, o.behaviour, o.behaviourConfig ?? {}, trainSteps, base * 2 + 1);
  const tSaved = o.policyFile ? savedTarget(o.policyFile, setup) : o.policyFromBehaviour ? bSaved : trainFrozen(setup, o.policy, o.policyConfig ?? {}, trainSteps, base * 2 + 2);
  const tConfig = o.policyFromBehaviour ? o.policyConfig : undefined;
  const perSeed: SimOpeSeed[] = [];
  let tSum = 0;
  let tSumSq = 0;
  let tN = 0;
  let loggedSum = 0;
  for (let s = 0; s < o.seeds; s++) {
    const behaviour = instance(setup, bSaved, streamSeed(base, s, 0), true);
    const target = instance(setup, tSaved, streamSeed(base, s, 1), policyMode === 'training', tConfig);
    const log = logDecisions(setup, behaviour, target, o.decisions, streamSeed(base, s, 2), batch);
    const estimates: Record<string, Estimate> = {};
    const bl = slateBandit(log, foldAssignment(o.decisions, 2, streamSeed(base, s, 3)));
    const boot = { bootstrap, seed: streamSeed(base, s, 4) };
    let ess = 0;
    if (bandit.length > 0) {
      const res = estimate(bl, bandit, boot);
      Object.assign(estimates, res.estimates);
      ess = res.ess;
    } else {
      ess = importanceWeightStats(bl).ess;
    }
    if (slate.length > 0) Object.assign(estimates, slateEstimates(log.slates, log.piSlot, slate, boot).estimates);
    // The truth run: a fresh target instance with its own stream, on sessions independent of the log's.
    const onp = onPolicy(setup, instance(setup, tSaved, streamSeed(base, s, 5), policyMode === 'training', tConfig), o.decisions, streamSeed(base, s, 6), batch);
    tSum += onp.sum;
    tSumSq += onp.sumSq;
    tN += onp.n;
    let lm = 0;
    for (let r = 0; r < o.decisions; r++) lm += bl.log.reward[r]!;
    loggedSum += lm;
    let supported = 0;
    for (let r = 0; r < o.decisions; r++) if (log.pi[r]! > 0) supported++;
    perSeed.push({ seed: s, estimates, truth: normalCi(onp.sum, onp.sumSq, onp.n), loggedMean: lm / o.decisions, ess, support: supported / o.decisions });
  }
  const truth = normalCi(tSum, tSumSq, tN);
  const estimates: Record<string, Estimate> = {};
  const relativeError: Record<string, number> = {};
  const seedRelativeError: Record<string, number> = {};
  const coverage: Record<string, number> = {};
  for (const name of names) {
    const values = perSeed.map((p) => p.estimates[name]!.value);
    const m = meanCi(values);
    estimates[name] = { value: m.mean, ci95: o.seeds === 1 ? perSeed[0]!.estimates[name]!.ci95 : m.ci95 };
    relativeError[name] = Math.abs(m.mean - truth.value) / Math.abs(truth.value);
    seedRelativeError[name] = values.reduce((a, v) => a + Math.abs(v - truth.value), 0) / values.length / Math.abs(truth.value);
    coverage[name] = perSeed.filter((p) => {
      const [lo, hi] = p.estimates[name]!.ci95;
      return lo <= truth.value && truth.value <= hi;
    }).length / o.seeds;
  }
  return {
    protocol: { preset: o.preset, behaviour: o.behaviour, policy: o.policy, decisions: o.decisions, seeds: o.seeds, trainSteps, policyMode, unit: 'reward of the first slate of a fresh session', seed: base, bootstrap },
    estimates,
    n: o.decisions,
    ess: perSeed.reduce((a, p) => a + p.ess, 0) / o.seeds,
    truth,
    relativeError,
    seedRelativeError,
    coverage,
    loggedMean: loggedSum / (o.decisions * o.seeds),
    support: perSeed.reduce((a, p) => a + p.support, 0) / o.seeds,
    perSeed,
  };
}
