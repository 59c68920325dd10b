/**
 * One seed of one agent against LLM-played users (src/env/llm-users.ts): the same protocol and
 * metrics as `SeedRun` (./runner.ts), with the environment stepped asynchronously because each
 * step waits for the model. `SeedRun`'s loops stay synchronous (workers, the bus and the benches
 * depend on that); what the two loops do around the step is shared (./seed-loop.ts).
 */
import { agentEntry, createAgent } from '../../agents/registry.js';
import type { ManagedAgent } from '../../agents/base.js';
import type { Dataset } from '../../data/dataset.js';
import { LlmUserVecEnv, type LlmUsersOptions } from '../../env/llm-users.js';
import type { Observation, Slate } from '../../env/types.js';
import type { ChatProvider } from '../../llm/types.js';
import { actForAll, EvalTally, observeAll, TrainCurve } from './seed-loop.js';
import type { SeedMetrics, SeedRunOptions, SimSetup } from './runner.js';

export interface LlmUsersSetup {
  chat: ChatProvider;
  train: Dataset;
  temperature?: number;
  maxTokens?: number;
}

export class LlmSeedRun {
  readonly seed: number;
  readonly agent: ManagedAgent;
  private readonly setup: SimSetup;
  private readonly opts: SeedRunOptions;
  private readonly users: LlmUsersOptions;
  private readonly learns: boolean;
  private env: LlmUserVecEnv | null = null;
  private obs: Observation[] = [];
  private readonly slates: Slate[] = [];
  private readonly slateBuf: Int32Array;
  private stepsDone = 0;
  private readonly trainCurve: TrainCurve;
  private trainMs = 0;

  constructor(setup: SimSetup, opts: SeedRunOptions, seed: number, users: LlmUsersSetup) {
    this.setup = setup;
    this.opts = opts;
    this.seed = seed;
    this.users = { chat: users.chat, train: users.train, ...(users.temperature !== undefined ? { temperature: users.temperature } : {}), ...(users.maxTokens !== undefined ? { maxTokens: users.maxTokens } : {}) };
    this.agent = createAgent(opts.agent, setup.ctx, { ...(opts.agentConfig ?? {}), seed });
    this.learns = agentEntry(opts.agent).learns;
    this.slateBuf = new Int32Array(opts.nEnvs * setup.preset.config.slateSize);
    this.trainCurve = new TrainCurve(opts.trainSteps, opts.curvePoints);
  }

  get trainStepsDone(): number {
    return this.stepsDone;
  }

  get curve(): { steps: number[]; value: number[] } {
    return this.trainCurve.curve;
  }

  /** Advance training by up to `steps` user-steps, as `SeedRun.train`. */
  async train(steps: number): Promise<number> {
    if (!this.learns) {
      const skip = Math.min(steps, this.opts.trainSteps - this.stepsDone);
      this.stepsDone += skip;
      return skip;
    }
    const t0 = performance.now();
    const { config, world } = this.setup.preset;
    const n = this.opts.nEnvs;
    const K = config.slateSize;
    if (!this.env) {
      this.env = new LlmUserVecEnv(world, config, n, this.users);
      this.obs = this.env.reset(this.seed * 7919 + 1);
    }
    const env = this.env;
    const agent = this.agent;
    agent.setTraining(true);
    const target = Math.min(this.opts.trainSteps, this.stepsDone + steps);
    const start = this.stepsDone;
    while (this.stepsDone < target) {
      actForAll(agent, this.obs, K, this.slates, this.slateBuf);
      const r = await env.stepAsync(this.slateBuf);
      observeAll(agent, this.obs, this.slates, r, K, this.trainCurve);
      agent.update();
      this.obs = r.observations.slice();
      this.stepsDone += n;
      this.trainCurve.advance(this.stepsDone);
    }
    this.trainMs += performance.now() - t0;
    return this.stepsDone - start;
  }

  /** Evaluate on exactly `sessions` sessions, as `SeedRun.evaluate` (without oracle policies). */
  async evaluate(sessions: number, onSession?: (done: number) => void): Promise<SeedMetrics> {
    const t0 = performance.now();
    const { config, world } = this.setup.preset;
    const n = Math.min(this.opts.nEnvs, sessions);
    const K = config.slateSize;
    const agent = this.agent;
    agent.setTraining(false);
    const env = new LlmUserVecEnv(world, config, n, this.users);
    let obs = env.reset(this.seed * 7919 + 2);
    const tally = new EvalTally(n, sessions, world, K);
    const buf = new Int32Array(n * K);
    while (!tally.done) {
      buf.fill(-1);
      for (let s = 0; s < n; s++) {
        const sl = agent.act(obs[s]!, K);
        buf.set(sl.items.subarray(0, K), s * K);
        tally.shownIn(s, sl);
      }
      const r = await env.stepAsync(buf);
      tally.stepped(r, onSession);
      obs = r.observations.slice();
    }
    return tally.metrics(this.seed, this.trainMs, t0, this.curve);
  }
}
