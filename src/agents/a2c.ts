/**
 * Advantage actor-critic (A2C; Mnih et al. 2016, synchronous form). Actor: the softmax slate
 * policy over the step's candidates (SoftmaxPolicy); critic: V(s), an MLP on the state. Every
 * `nSteps` observed transitions (from any mix of sessions) give one update on exactly those
 * transitions (on-policy, then discarded):
 *   A_t = r_t + γ (1 − done_t) V(s_{t+1}) − V(s_t)
 *   actor: ascend Σ_{a in slate} A_t ∇ log π(a|s_t) + entropy bonus;  critic: MSE to r_t + γ V(s_{t+1}).
 */
import type { Observation } from '../env/types.js';
import { ConfigError } from '../errors.js';
import { ENCODER_DEFAULTS } from './encoder-state.js';
import { NEURAL_DEFAULTS, packObservations, snapshotObservation, unpackObservations, type PackedObservations } from './neural.js';
import { PolicyGradientAgent, type PolicyGradientConfig } from './policy-gradient.js';
import { packPolicySteps, standardise, unpackPolicySteps, type PolicyStep } from './softmax-policy.js';
import type { Transition } from './types.js';

export interface A2cConfig extends PolicyGradientConfig {
  /** Transitions per update. */
  nSteps: number;
  entropy: number;
  /** Standardise advantages within each update batch. */
  normaliseAdvantage: boolean;
}

export const A2C_DEFAULTS: Omit<A2cConfig, 'seed'> = {
  ...NEURAL_DEFAULTS,
  ...ENCODER_DEFAULTS,
  nSteps: 32,
  entropy: 0.01,
  valueLr: 1e-3,
  normaliseAdvantage: true,
};

export class A2cAgent extends PolicyGradientAgent<A2cConfig> {
  readonly name = 'a2c';
  readonly version = 1;
  private steps: PolicyStep[] = [];
  private rewards: number[] = [];
  private nexts: Observation[] = [];
  private dones: boolean[] = [];

  protected validate(config: A2cConfig): void {
    if (!Number.isInteger(config.nSteps) || config.nSteps < 1) throw new ConfigError(`nSteps must be a positive integer, got ${config.nSteps}`, 'nSteps');
  }

  override observe(t: Transition): boolean {
    if (!this.training) return false;
    this.learnRetrieval(t);
    this.steps.push(this.pending.recall(t));
    this.rewards.push(t.reward);
    this.nexts.push(snapshotObservation(t.next));
    this.dones.push(t.done);
    return true;
  }

  override update(): void {
    if (!this.training || this.steps.length < this.config.nSteps) return;
    const { gamma, entropy, normaliseAdvantage } = this.config;
    const n = this.steps.length;
    const obs = this.steps.map((s) => s.obs);
    const vNext = this.value.values(this.nexts);
    const targets = Float32Array.from(this.rewards, (r, t) => r + (this.dones[t] ? 0 : gamma * vNext[t]!));
    const v = this.value.values(obs);
    const adv = Float32Array.from(targets, (y, t) => y - v[t]!);
    if (normaliseAdvantage && n > 1) standardise(adv);
    this.policy.probabilities(this.steps);
    const weights = this.steps.map((st, t) => new Float32Array(st.actions.length).fill(adv[t]!));
    this.policy.gradientStep(this.steps, weights, entropy);
    this.value.fit(obs, targets);
    this.steps = [];
    this.rewards = [];
    this.nexts = [];
    this.dones = [];
  }

  protected override extraState(): Record<string, unknown> {
    return { steps: packPolicySteps(this.steps), rewards: Float64Array.from(this.rewards), nexts: packObservations(this.nexts), dones: Uint8Array.from(this.dones, Number) };
  }

  protected override loadExtraState(s: Record<string, unknown>): void {
    this.steps = unpackPolicySteps(s.steps);
    this.rewards = s.rewards instanceof Float64Array ? Array.from(s.rewards) : [];
    this.nexts = s.nexts ? unpackObservations(s.nexts as PackedObservations) : [];
    this.dones = s.dones instanceof Uint8Array ? Array.from(s.dones, (d) => d === 1) : [];
  }
}
