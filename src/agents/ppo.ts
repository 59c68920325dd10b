/**
 * PPO with the clipped surrogate objective and GAE (Schulman et al. 2017; 2016).
 *
 * Actor: the softmax slate policy over the step's candidates; each shown item a is one action
 * with probability ratio ρ = π_θ(a|s)/π_old(a|s). Critic: V(s). After `rolloutSteps` observed
 * transitions, advantages come from GAE(γ, λ) along each session's transitions in order
 * (bootstrapping with V(s') where the rollout cuts a session), then `epochs` passes of shuffled
 * minibatches maximise Σ_a min(ρ Â, clip(ρ, 1 ± ε) Â) + entropy bonus, and fit V to Â + V_old.
 */
import type { Observation } from '../env/types.js';
import { ConfigError } from '../errors.js';
import { NEURAL_DEFAULTS, SessionTracker, packObservations, snapshotObservation, unpackObservations, type PackedObservations } from './neural.js';
import { gaeAdvantages, PolicyGradientAgent, type PolicyGradientConfig } from './policy-gradient.js';
import { packPolicySteps, standardise, unpackPolicySteps, type PolicyStep } from './softmax-policy.js';
import type { Transition } from './types.js';

export interface PpoConfig extends PolicyGradientConfig {
  rolloutSteps: number;
  epochs: number;
  minibatch: number;
  /** Clip range ε. */
  clip: number;
  /** GAE λ. */
  lambda: number;
  entropy: number;
}

export const PPO_DEFAULTS: Omit<PpoConfig, 'seed'> = {
  ...NEURAL_DEFAULTS,
  // Several epochs per rollout: a smaller step than the single-pass agents (measured on sim-ml-ls-v1).
  lr: 3e-4,
  rolloutSteps: 128,
  epochs: 4,
  minibatch: 32,
  clip: 0.1,
  lambda: 0.95,
  entropy: 0.01,
  valueLr: 1e-3,
};

interface Step {
  p: PolicyStep;
  reward: number;
  next: Observation;
  done: boolean;
  /** Session id (GAE runs along a session). */
  session: number;
}

export class PpoAgent extends PolicyGradientAgent<PpoConfig> {
  readonly name = 'ppo';
  readonly version = 1;
  private rollout: Step[] = [];
  private readonly sessions = new SessionTracker<number>();
  private nextSession = 0;

  protected validate(config: PpoConfig): void {
    for (const f of ['rolloutSteps', 'epochs', 'minibatch'] as const) {
      if (!Number.isInteger(config[f]) || config[f] < 1) throw new ConfigError(`${f} must be a positive integer, got ${config[f]}`, f);
    }
    if (!(config.clip > 0 && config.clip < 1)) throw new ConfigError(`clip must be in (0, 1), got ${config.clip}`, 'clip');
    if (!(config.lambda >= 0 && config.lambda <= 1)) throw new ConfigError(`lambda must be in [0, 1], got ${config.lambda}`, 'lambda');
  }

  override observe(t: Transition): boolean {
    if (!this.training) return false;
    const session = this.sessions.session(t, () => this.nextSession++);
    this.rollout.push({ p: this.pending.recall(t), reward: t.reward, next: snapshotObservation(t.next), done: t.done, session });
    return true;
  }

  override update(): void {
    if (!this.training || this.rollout.length < this.config.rolloutSteps) return;
    const { gamma, lambda, epochs, minibatch, clip, entropy } = this.config;
    const R = this.rollout;
    const n = R.length;
    const v = this.value.values(R.map((s) => s.p.obs));
    const vNext = this.value.values(R.map((s) => s.next));
    const adv = gaeAdvantages(
      R.map((s) => s.reward),
      R.map((s) => s.done),
      R.map((s) => s.session),
      v,
      vNext,
      gamma,
      lambda,
    );
    const returns = Float32Array.from(adv, (a, t) => a + v[t]!);
    standardise(adv);
    const order = Int32Array.from({ length: n }, (_, i) => i);
    for (let e = 0; e < epochs; e++) {
      this.rng.shuffle(order);
      for (let b = 0; b < n; b += minibatch) {
        const idx = order.subarray(b, Math.min(n, b + minibatch));
        const steps = Array.from(idx, (i) => R[i]!.p);
        const probs = this.policy.probabilities(steps);
        const weights = steps.map((st, j) => {
          const A = adv[idx[j]!]!;
          const w = new Float32Array(st.actions.length);
          for (let a = 0; a < w.length; a++) {
            const ratio = probs[j]![a]! / Math.max(st.behaviour[a]!, 1e-8);
            // The clipped term's gradient is zero once the ratio has moved past 1 ± ε in A's direction.
            const active = A >= 0 ? ratio < 1 + clip : ratio > 1 - clip;
            w[a] = active ? ratio * A : 0;
          }
          return w;
        });
        this.policy.gradientStep(steps, weights, entropy);
        this.value.fit(
          steps.map((s) => s.obs),
          Float32Array.from(idx, (i) => returns[i]!),
        );
      }
    }
    this.rollout = [];
  }

  protected override extraState(): Record<string, unknown> {
    const R = this.rollout;
    return {
      steps: packPolicySteps(R.map((x) => x.p)),
      rewards: Float64Array.from(R, (x) => x.reward),
      nexts: packObservations(R.map((x) => x.next)),
      dones: Uint8Array.from(R, (x) => (x.done ? 1 : 0)),
      sessions: Int32Array.from(R, (x) => x.session),
      open: this.sessions.openByUser(),
      nextSession: this.nextSession,
    };
  }

  protected override loadExtraState(s: Record<string, unknown>): void {
    const steps = unpackPolicySteps(s.steps);
    const nexts = s.nexts ? unpackObservations(s.nexts as PackedObservations) : [];
    const rewards = s.rewards as Float64Array | undefined;
    const dones = s.dones as Uint8Array | undefined;
    const sessions = s.sessions as Int32Array | undefined;
    this.rollout = steps.map((p, i) => ({ p, reward: rewards![i]!, next: nexts[i]!, done: dones![i] === 1, session: sessions![i]! }));
    this.sessions.restoreOpen((s.open as [number, number][] | undefined) ?? []);
    this.nextSession = typeof s.nextSession === 'number' ? s.nextSession : 0;
  }
}
