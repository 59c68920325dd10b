/**
 * Train an agent in a simulator preset for a budget of user-steps, per seed, then evaluate it on
 * a fixed number of sessions; aggregate over seeds (mean and Student-t 95 % interval).
 *
 * Training: `nEnvs` sessions run side by side in one `VecEnv`; the agent acts for each, sees each
 * transition (`observe`) and `update()`s once per vector step. Evaluation: the agent is switched
 * to evaluation mode (no exploration, no learning) and exactly the first `evalSessions` sessions
 * started are counted (later starts are ignored, so long sessions are not under-counted).
 */
import { agentEntry, createAgent } from '../../agents/registry.js';
import type { ManagedAgent } from '../../agents/base.js';
import type { AgentContext } from '../../agents/state.js';
import type { Observation, Slate } from '../../env/types.js';
import type { VecEnv } from '../../env/vec-env.js';
import { createVecEnv, ratingFamilyEnv, type SessionBatchEnv, type SimPreset } from '../../env/presets.js';
import { exposureGini } from '../metrics.js';

export interface SimSetup {
  preset: SimPreset;
  ctx: AgentContext;
  /** External ids of the agents' items and users (index order), for saved agents. */
  ids?: { items: string[]; users: string[] };
}

export interface SeedRunOptions {
  agent: string;
  agentConfig?: Record<string, unknown>;
  trainSteps: number;
  /** Parallel sessions per vector step. */
  nEnvs: number;
  /** Learning-curve points over the training budget. */
  curvePoints: number;
}

export interface SeedMetrics {
  seed: number;
  /** Mean discounted return per session (γ = preset gamma). */
  return: number;
  undiscountedReturn: number;
  /** Clicks per slate shown. */
  ctr: number;
  sessionLength: number;
  exposureGini: number;
  coldExposureShare: number;
  /** Mean reward parts per step. */
  parts: { R: number; G: number; A: number };
  purchasesPerSession: number;
  meanRating: number;
  sessions: number;
  trainSeconds: number;
  evalSeconds: number;
  /** Training curve: user-steps done → mean discounted return of training sessions finished in that window. */
  curve: { steps: number[]; value: number[] };
}

/** One seed of one agent in one world; training can advance in chunks (for progress reporting). */
export class SeedRun {
  readonly seed: number;
  readonly agent: ManagedAgent;
  private readonly setup: SimSetup;
  private readonly opts: SeedRunOptions;
  private readonly learns: boolean;
  private env: SessionBatchEnv | null = null;
  private obs: Observation[] = [];
  private readonly slates: Slate[] = [];
  private slateBuf: Int32Array;
  private stepsDone = 0;
  private windowSum = 0;
  private windowCount = 0;
  private nextCurveAt: number;
  private trainMs = 0;
  readonly curve: { steps: number[]; value: number[] } = { steps: [], value: [] };

  constructor(setup: SimSetup, opts: SeedRunOptions, seed: number) {
    this.setup = setup;
    this.opts = opts;
    this.seed = seed;
    this.agent = createAgent(opts.agent, setup.ctx, { ...(opts.agentConfig ?? {}), seed });
    this.learns = agentEntry(opts.agent).learns;
    this.slateBuf = new Int32Array(opts.nEnvs * setup.preset.config.slateSize);
    this.nextCurveAt = Math.max(1, Math.floor(opts.trainSteps / Math.max(1, opts.curvePoints)));
  }

  get trainStepsDone(): number {
    return this.stepsDone;
  }

  /** Advance training by up to `steps` user-steps (never beyond the budget). Non-learning agents skip training. */
  train(steps: number): number {
    if (!this.learns) {
      const skip = Math.min(steps, this.opts.trainSteps - this.stepsDone);
      this.stepsDone += skip;
      return skip;
    }
    const t0 = performance.now();
    const { config } = this.setup.preset;
    const n = this.opts.nEnvs;
    const K = config.slateSize;
    if (!this.env) {
      this.env = createVecEnv(this.setup.preset, n);
      this.obs = this.env.reset(this.seed * 7919 + 1);
    }
    const env = this.env;
    const agent = this.agent;
    agent.setTraining(true);
    const target = Math.min(this.opts.trainSteps, this.stepsDone + steps);
    const start = this.stepsDone;
    while (this.stepsDone < target) {
      this.slateBuf.fill(-1);
      for (let s = 0; s < n; s++) {
        const sl = agent.act(this.obs[s]!, K);
        this.slates[s] = sl;
        this.slateBuf.set(sl.items.subarray(0, K), s * K);
      }
      const r = env.step(this.slateBuf);
      for (let s = 0; s < n; s++) {
        const done = r.done[s] === 1;
        agent.observe({
          observation: this.obs[s]!,
          slate: this.slates[s]!,
          reward: r.rewards[s]!,
          parts: { R: r.R[s]!, G: r.G[s]!, A: r.A[s]!, itemG: r.g.slice(s * K, s * K + K) },
          clicks: r.clicks.slice(s * K, s * K + K),
          next: done ? r.terminal[s]! : r.observations[s]!,
          done,
        });
        if (done) {
          this.windowSum += r.episodeDiscounted[s]!;
          this.windowCount++;
        }
      }
      agent.update();
      this.obs = r.observations.slice();
      this.stepsDone += n;
      while (this.stepsDone >= this.nextCurveAt && this.curve.steps.length < this.opts.curvePoints) {
        this.curve.steps.push(this.nextCurveAt);
        this.curve.value.push(this.windowCount > 0 ? this.windowSum / this.windowCount : NaN);
        this.windowSum = 0;
        this.windowCount = 0;
        this.nextCurveAt += Math.max(1, Math.floor(this.opts.trainSteps / Math.max(1, this.opts.curvePoints)));
      }
    }
    this.trainMs += performance.now() - t0;
    return this.stepsDone - start;
  }

  /**
   * Evaluate on exactly `sessions` sessions (evaluation mode); `onSession` is called as sessions
   * finish. `policy`, when given, acts instead of the agent on the same sessions and metrics (an
   * oracle that reads `env.hiddenState(slot)`, for ceilings: bench/marl-ceiling.ts).
   */
  evaluate(sessions: number, onSession?: (done: number) => void, policy?: (obs: Observation, slot: number, env: VecEnv) => Slate): SeedMetrics {
    const t0 = performance.now();
    const { config, world } = this.setup.preset;
    const n = Math.min(this.opts.nEnvs, sessions);
    const K = config.slateSize;
    const agent = this.agent;
    agent.setTraining(false);
    const env = createVecEnv(this.setup.preset, n);
    // Oracle policies read the rating model's hidden state; other families refuse them.
    const oracleEnv = policy ? ratingFamilyEnv(env, config.preset) : null;
    let obs = env.reset(this.seed * 7919 + 2);
    const counted = new Uint8Array(n).fill(1);
    let started = n;
    let finished = 0;
    const exposure = new Int32Array(world.nItems);
    let shown = 0;
    let coldShown = 0;
    let steps = 0;
    let clicks = 0;
    let purchases = 0;
    let ratingSum = 0;
    let nRatings = 0;
    let ret = 0;
    let undisc = 0;
    let lengthSum = 0;
    let Rs = 0;
    let Gs = 0;
    let As = 0;
    const buf = new Int32Array(n * K);
    while (finished < sessions) {
      buf.fill(-1);
      for (let s = 0; s < n; s++) {
        const sl = policy && oracleEnv ? policy(obs[s]!, s, oracleEnv) : agent.act(obs[s]!, K);
        buf.set(sl.items.subarray(0, K), s * K);
        if (counted[s]) {
          for (let p = 0; p < Math.min(K, sl.items.length); p++) {
            const i = sl.items[p]!;
            exposure[i]++;
            shown++;
            coldShown += world.cold[i]!;
          }
        }
      }
      const r = env.step(buf);
      for (let s = 0; s < n; s++) {
        if (counted[s]) {
          steps++;
          Rs += r.R[s]!;
          Gs += r.G[s]!;
          As += r.A[s]!;
          for (let p = 0; p < K; p++) {
            clicks += r.clicks[s * K + p]!;
            purchases += r.purchases[s * K + p]!;
            const rt = r.ratings[s * K + p]!;
            if (!Number.isNaN(rt)) (ratingSum += rt), nRatings++;
          }
        }
        if (r.done[s]) {
          if (counted[s]) {
            finished++;
            ret += r.episodeDiscounted[s]!;
            undisc += r.episodeReturn[s]!;
            lengthSum += r.episodeLength[s]!;
            onSession?.(finished);
          }
          counted[s] = started < sessions ? 1 : 0;
          if (counted[s]) started++;
        }
      }
      obs = r.observations.slice();
    }
    return {
      seed: this.seed,
      return: ret / sessions,
      undiscountedReturn: undisc / sessions,
      ctr: clicks / Math.max(1, steps),
      sessionLength: lengthSum / sessions,
      exposureGini: exposureGini(exposure),
      coldExposureShare: coldShown / Math.max(1, shown),
      parts: { R: Rs / Math.max(1, steps), G: Gs / Math.max(1, steps), A: As / Math.max(1, steps) },
      purchasesPerSession: purchases / sessions,
      meanRating: nRatings > 0 ? ratingSum / nRatings : NaN,
      sessions,
      trainSeconds: this.trainMs / 1000,
      evalSeconds: (performance.now() - t0) / 1000,
      curve: this.curve,
    };
  }
}
