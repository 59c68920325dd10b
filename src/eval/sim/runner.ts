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
import type { InterestVecEnv } from '../../env/interest-env.js';
import { createVecEnv, type SessionBatchEnv, type SimPreset } from '../../env/presets.js';
import { actForAll, EvalTally, observeAll, TrainCurve } from './seed-loop.js';

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
  private readonly trainCurve: TrainCurve;
  private trainMs = 0;

  constructor(setup: SimSetup, opts: SeedRunOptions, seed: number) {
    this.setup = setup;
    this.opts = opts;
    this.seed = seed;
    this.agent = createAgent(opts.agent, setup.ctx, { ...(opts.agentConfig ?? {}), seed });
    this.learns = agentEntry(opts.agent).learns;
    this.slateBuf = new Int32Array(opts.nEnvs * setup.preset.config.slateSize);
    this.trainCurve = new TrainCurve(opts.trainSteps, opts.curvePoints);
  }

  get trainStepsDone(): number {
    return this.stepsDone;
  }

  /** Training curve: user-steps done → mean discounted return of training sessions finished in that window. */
  get curve(): { steps: number[]; value: number[] } {
    return this.trainCurve.curve;
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
      actForAll(agent, this.obs, K, this.slates, this.slateBuf);
      const r = env.step(this.slateBuf);
      observeAll(agent, this.obs, this.slates, r, K, this.trainCurve);
      agent.update();
      this.obs = r.observations.slice();
      this.stepsDone += n;
      this.trainCurve.advance(this.stepsDone);
    }
    this.trainMs += performance.now() - t0;
    return this.stepsDone - start;
  }

  /**
   * Evaluate on exactly `sessions` sessions (evaluation mode); `onSession` is called as sessions
   * finish. `policy`, when given, acts instead of the agent on the same sessions and metrics (an
   * oracle that reads the hidden state of the evaluation env's slot, for ceilings:
   * bench/marl-ceiling.ts, bench/plan-ceiling.ts).
   */
  evaluate(sessions: number, onSession?: (done: number) => void, policy?: (obs: Observation, slot: number, env: VecEnv | InterestVecEnv) => Slate): SeedMetrics {
    const t0 = performance.now();
    const { config, world } = this.setup.preset;
    const n = Math.min(this.opts.nEnvs, sessions);
    const K = config.slateSize;
    const agent = this.agent;
    agent.setTraining(false);
    const env = createVecEnv(this.setup.preset, n);
    let obs = env.reset(this.seed * 7919 + 2);
    const tally = new EvalTally(n, sessions, world, K);
    const buf = new Int32Array(n * K);
    while (!tally.done) {
      buf.fill(-1);
      for (let s = 0; s < n; s++) {
        const sl = policy ? policy(obs[s]!, s, env) : agent.act(obs[s]!, K);
        buf.set(sl.items.subarray(0, K), s * K);
        tally.shownIn(s, sl);
      }
      const r = env.step(buf);
      tally.stepped(r, onSession);
      obs = r.observations.slice();
    }
    return tally.metrics(this.seed, this.trainMs, t0, this.curve);
  }
}
