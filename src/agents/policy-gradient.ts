/**
 * Plumbing shared by the on-policy softmax-slate agents (REINFORCE, A2C, PPO, TRPO): the actor
 * (SoftmaxPolicy over the step's candidates), the state-value net V(s) used as baseline or
 * critic, the pending-step book-keeping between `act` and `observe`, and the network list for
 * save/load. Each subclass keeps its own `update`; the rollout agents (PPO, TRPO) share their
 * rollout buffer, its GAE advantages and its saved form through `RolloutAgent`.
 */
import type { Observation, Slate } from '../env/types.js';
import type { Adam, Mlp } from '../nn/index.js';
import { NeuralAgent, SessionTracker, packObservations, snapshotObservation, unpackObservations, type NeuralConfig, type PackedObservations } from './neural.js';
import { PendingSteps, SoftmaxPolicy, ValueNet, packPolicySteps, standardise, unpackPolicySteps, type PolicyStep } from './softmax-policy.js';
import type { AgentContext } from './state.js';
import type { ActOptions, Transition } from './types.js';

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

  /** The policy's loss trains the history encoder when there is one (SoftmaxPolicy.gradientStep). */
  protected override trainsEncoder(): boolean {
    return true;
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

export interface RolloutConfig extends PolicyGradientConfig {
  rolloutSteps: number;
  /** GAE λ. */
  lambda: number;
}

/** One observed transition of a rollout. */
export interface RolloutStep {
  p: PolicyStep;
  reward: number;
  next: Observation;
  done: boolean;
  /** Session id (GAE runs along a session). */
  session: number;
}

/**
 * An agent that learns from rollouts of `rolloutSteps` transitions (PPO, TRPO): `observe` buffers
 * each transition with its session id, `rolloutAdvantages` gives the full rollout's GAE
 * advantages, and a half-filled rollout survives save/load (state keys steps, rewards, nexts,
 * dones, sessions, open, nextSession).
 */
export abstract class RolloutAgent<C extends RolloutConfig> extends PolicyGradientAgent<C> {
  protected rollout: RolloutStep[] = [];
  private readonly sessions = new SessionTracker<number>();
  private nextSession = 0;

  override observe(t: Transition): boolean {
    if (!this.training) return false;
    this.learnRetrieval(t);
    const session = this.sessions.session(t, () => this.nextSession++);
    this.rollout.push({ p: this.pending.recall(t), reward: t.reward, next: snapshotObservation(t.next), done: t.done, session });
    return true;
  }

  /** Whether a full rollout waits for `update`. */
  protected rolloutReady(): boolean {
    return this.training && this.rollout.length >= this.config.rolloutSteps;
  }

  /**
   * GAE(γ, λ) advantages of the buffered rollout, standardised, and the critic's targets
   * Â + V_old(s) (computed before standardising).
   */
  protected rolloutAdvantages(): { adv: Float32Array; returns: Float32Array } {
    const R = this.rollout;
    const v = this.value.values(R.map((s) => s.p.obs));
    const vNext = this.value.values(R.map((s) => s.next));
    const adv = gaeAdvantages(
      R.map((s) => s.reward),
      R.map((s) => s.done),
      R.map((s) => s.session),
      v,
      vNext,
      this.config.gamma,
      this.config.lambda,
    );
    const returns = Float32Array.from(adv, (a, t) => a + v[t]!);
    standardise(adv);
    return { adv, returns };
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
