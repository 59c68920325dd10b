/**
 * REINFORCE with a learned baseline and the top-K off-policy correction of Chen et al. (2019),
 * "Top-K Off-Policy Correction for a REINFORCE Recommender System".
 *
 * Policy: softmax over the step's candidates (SoftmaxPolicy); a slate is k items drawn without
 * replacement. Once a session ends its discounted returns G_t are computed; every `batchEpisodes`
 * finished sessions give one gradient step ascending, for each shown item a,
 *   λ_K(s,a) · min(π_θ(a|s) / β(a|s), ratioCap) · (G_t − V(s_t)) · ∇ log π_θ(a|s),
 * with λ_K(s,a) = K (1 − π_θ(a|s))^{K−1} (the derivative of the probability that a appears in
 * a top-K slate of K independent draws) and β the behaviour probability recorded when acting
 * (equal to π_θ until the policy moves on; the capped ratio corrects for stale or logged
 * data). Advantages are standardised per batch. V is an MLP on the state fitted to G_t.
 */
import { ConfigError } from '../errors.js';
import { ENCODER_DEFAULTS } from './encoder-state.js';
import { NEURAL_DEFAULTS, SessionTracker } from './neural.js';
import { PolicyGradientAgent, type PolicyGradientConfig } from './policy-gradient.js';
import { packPolicySteps, standardise, unpackPolicySteps, type PolicyStep } from './softmax-policy.js';
import type { Transition } from './types.js';

export interface ReinforceConfig extends PolicyGradientConfig {
  /** Finished sessions per gradient step. */
  batchEpisodes: number;
  /** Apply the top-K multiplier λ_K (false = plain REINFORCE with a baseline). */
  topKCorrection: boolean;
  /** Cap on the importance ratio π_θ/β. */
  ratioCap: number;
  /** Entropy bonus weight. */
  entropy: number;
}

export const REINFORCE_DEFAULTS: Omit<ReinforceConfig, 'seed'> = {
  ...NEURAL_DEFAULTS,
  ...ENCODER_DEFAULTS,
  batchEpisodes: 8,
  topKCorrection: true,
  ratioCap: 10,
  entropy: 0.01,
  valueLr: 1e-3,
};

interface Episode {
  steps: PolicyStep[];
  rewards: number[];
}

export class ReinforceAgent extends PolicyGradientAgent<ReinforceConfig> {
  readonly name: string = 'reinforce';
  readonly version = 1;
  private readonly sessions = new SessionTracker<Episode>();
  private finished: Episode[] = [];
  private k = 1;

  protected validate(config: ReinforceConfig): void {
    if (!Number.isInteger(config.batchEpisodes) || config.batchEpisodes < 1) {
      throw new ConfigError(`batchEpisodes must be a positive integer, got ${config.batchEpisodes}`, 'batchEpisodes');
    }
    if (!(config.ratioCap > 0)) throw new ConfigError(`ratioCap must be > 0, got ${config.ratioCap}`, 'ratioCap');
  }

  override observe(t: Transition): boolean {
    if (!this.training) return false;
    this.learnRetrieval(t);
    this.k = Math.max(this.k, t.slate.items.length);
    const ep = this.sessions.session(t, () => ({ steps: [], rewards: [] }));
    ep.steps.push(this.pending.recall(t));
    ep.rewards.push(t.reward);
    if (t.done) this.finished.push(ep);
    return true;
  }

  override update(): void {
    if (!this.training || this.finished.length < this.config.batchEpisodes) return;
    const { gamma, topKCorrection, ratioCap, entropy } = this.config;
    const steps: PolicyStep[] = [];
    const returns: number[] = [];
    for (const ep of this.finished) {
      let g = 0;
      const G = new Array<number>(ep.rewards.length);
      for (let t = ep.rewards.length - 1; t >= 0; t--) G[t] = g = ep.rewards[t]! + gamma * g;
      steps.push(...ep.steps);
      returns.push(...G);
    }
    this.finished = [];
    const v = this.value.values(steps.map((s) => s.obs));
    const adv = standardise(Float32Array.from(returns, (g, t) => g - v[t]!));
    const probs = this.policy.probabilities(steps);
    const K = this.k;
    const weights = steps.map((st, t) => {
      const w = new Float32Array(st.actions.length);
      for (let a = 0; a < w.length; a++) {
        const p = probs[t]![a]!;
        const lambda = topKCorrection ? topKMultiplier(p, K) : 1;
        const ratio = Math.min(p / Math.max(st.behaviour[a]!, 1e-8), ratioCap);
        w[a] = lambda * ratio * adv[t]!;
      }
      return w;
    });
    this.policy.gradientStep(steps, weights, entropy);
    this.value.fit(
      steps.map((s) => s.obs),
      Float32Array.from(returns),
    );
  }

  protected override extraState(): Record<string, unknown> {
    const open = this.sessions.openByUser();
    const eps = [...this.finished, ...open.map(([, e]) => e)];
    return {
      k: this.k,
      nFinished: this.finished.length,
      openUsers: Int32Array.from(open, ([u]) => u),
      lengths: Int32Array.from(eps, (e) => e.steps.length),
      steps: packPolicySteps(eps.flatMap((e) => e.steps)),
      rewards: Float64Array.from(eps.flatMap((e) => e.rewards)),
    };
  }

  protected override loadExtraState(s: Record<string, unknown>): void {
    this.k = typeof s.k === 'number' ? s.k : 1;
    const lengths = (s.lengths as Int32Array | undefined) ?? new Int32Array(0);
    const steps = unpackPolicySteps(s.steps);
    const rewards = (s.rewards as Float64Array | undefined) ?? new Float64Array(0);
    const eps: Episode[] = [];
    let o = 0;
    for (const n of lengths) {
      eps.push({ steps: steps.slice(o, o + n), rewards: Array.from(rewards.subarray(o, o + n)) });
      o += n;
    }
    const nFinished = typeof s.nFinished === 'number' ? s.nFinished : 0;
    this.finished = eps.slice(0, nFinished);
    const users = (s.openUsers as Int32Array | undefined) ?? new Int32Array(0);
    this.sessions.restoreOpen(Array.from(users, (u, i) => [u, eps[nFinished + i]!] as [number, Episode]));
  }
}

/**
 * λ_K(s, a) = K (1 − π)^{K−1}: the derivative of α = 1 − (1 − π)^K, the probability that item a
 * is in a slate of K independent draws from π, with respect to π (Chen et al. 2019, eq. 6).
 */
export function topKMultiplier(p: number, K: number): number {
  return K * Math.pow(1 - p, K - 1);
}
