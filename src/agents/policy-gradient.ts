/**
 * Plumbing shared by the on-policy softmax-slate agents (REINFORCE, A2C, PPO): the actor
 * (SoftmaxPolicy over the step's candidates), the state-value net V(s) used as baseline or
 * critic, the pending-step book-keeping between `act` and `observe`, and the network list for
 * save/load. Each subclass keeps its own buffers and its own `update`.
 */
import type { Observation, Slate } from '../env/types.js';
import type { Adam, Mlp } from '../nn/index.js';
import { NeuralAgent, snapshotObservation, type NeuralConfig } from './neural.js';
import { PendingSteps, SoftmaxPolicy, ValueNet } from './softmax-policy.js';
import type { AgentContext } from './state.js';
import type { ActOptions } from './types.js';

export interface PolicyGradientConfig extends NeuralConfig {
  /** Learning rate of V(s). */
  valueLr: number;
}

export abstract class PolicyGradientAgent<C extends PolicyGradientConfig> extends NeuralAgent<C> {
  protected readonly policy: SoftmaxPolicy;
  protected readonly value: ValueNet;
  protected readonly pending = new PendingSteps();

  constructor(ctx: AgentContext, config: C) {
    super(ctx, config);
    // Before the networks are built, so a bad config fails first (and draws nothing from initRng).
    this.validate(config);
    this.policy = new SoftmaxPolicy(this.pairs, this.source, config.hidden, config.lr, this.initRng);
    this.value = new ValueNet(this.pairs, config.hidden, config.valueLr, this.initRng);
  }

  /** Check the subclass's own fields; throw ConfigError naming the field. Runs inside the constructor. */
  protected abstract validate(config: C): void;

  act(obs: Observation, k: number, options?: ActOptions): Slate {
    const { slate, step } = this.policy.act(obs, k, this.rng, this.training, options);
    if (this.training) {
      step.obs = snapshotObservation(obs);
      this.pending.remember(slate, step);
    }
    return slate;
  }

  protected networks(): Record<string, { net: Mlp; opt?: Adam }> {
    return { policy: { net: this.policy.net, opt: this.policy.opt }, value: { net: this.value.net, opt: this.value.opt } };
  }
}

/**
 * GAE(γ, λ) advantages of a rollout whose transitions may interleave sessions: walking
 * backwards in rollout order, each transition continues the advantage of its session's later
 * transition (none after a terminal one); V(s') bootstraps where the rollout cuts a session.
 */
export function gaeAdvantages(
  rewards: ArrayLike<number>,
  dones: ArrayLike<boolean>,
  sessions: ArrayLike<number>,
  v: Float32Array,
  vNext: Float32Array,
  gamma: number,
  lambda: number,
): Float32Array {
  const n = rewards.length;
  const adv = new Float32Array(n);
  const carry = new Map<number, number>();
  for (let t = n - 1; t >= 0; t--) {
    const done = dones[t]!;
    const delta = rewards[t]! + (done ? 0 : gamma * vNext[t]!) - v[t]!;
    const later = done ? 0 : (carry.get(sessions[t]!) ?? 0);
    adv[t] = delta + gamma * lambda * later;
    carry.set(sessions[t]!, adv[t]!);
  }
  return adv;
}
