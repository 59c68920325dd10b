/**
 * One seed of one agent against LLM-played users (src/env/llm-users.ts): the same protocol and
 * metrics as `SeedRun` (./runner.ts), with the environment stepped asynchronously because each
 * step waits for the model. `SeedRun`'s loops stay synchronous (workers, the bus and the benches
 * depend on that), so the two loops are kept side by side; a change to the metrics there belongs
 * here too.
 */
import { agentEntry, createAgent } from '../../agents/registry.js';
import type { ManagedAgent } from '../../agents/base.js';
import type { Dataset } from '../../data/dataset.js';
import { LlmUserVecEnv, type LlmUsersOptions } from '../../env/llm-users.js';
import type { Observation, Slate } from '../../env/types.js';
import type { ChatProvider } from '../../llm/types.js';
import { exposureGini } from '../metrics.js';
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
  private windowSum = 0;
  private windowCount = 0;
  private nextCurveAt: number;
  private trainMs = 0;
  readonly curve: { steps: number[]; value: number[] } = { steps: [], value: [] };

  constructor(setup: SimSetup, opts: SeedRunOptions, seed: number, users: LlmUsersSetup) {
    this.setup = setup;
    this.opts = opts;
    this.seed = seed;
    this.users = { chat: users.chat, train: users.train, ...(users.temperature !== undefined ? { temperature: users.temperature } : {}), ...(users.maxTokens !== undefined ? { maxTokens: users.maxTokens } : {}) };
    this.agent = createAgent(opts.agent, setup.ctx, { ...(opts.agentConfig ?? {}), seed });
    this.learns = agentEntry(opts.agent).learns;
    this.slateBuf = new Int32Array(opts.nEnvs * setup.preset.config.slateSize);
    this.nextCurveAt = Math.max(1, Math.floor(opts.trainSteps / Math.max(1, opts.curvePoints)));
  }

  get trainStepsDone(): number {
    return this.stepsDone;
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
      this.slateBuf.fill(-1);
      for (let s = 0; s < n; s++) {
        const sl = agent.act(this.obs[s]!, K);
        this.slates[s] = sl;
        this.slateBuf.set(sl.items.subarray(0, K), s * K);
      }
      const r = await env.stepAsync(this.slateBuf);
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
        const sl = agent.act(obs[s]!, K);
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
      const r = await env.stepAsync(buf);
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
