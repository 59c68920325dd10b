/**
 * The parts of a seed's training and evaluation loops that do not care how the environment steps:
 * the agent acting for every session, the agent seeing every transition, the learning curve, and
 * the evaluation tallies. `SeedRun` (./runner.ts) steps a synchronous `VecEnv`; `LlmSeedRun`
 * (./llm-run.ts) awaits LLM-played users; both run these, so the two report the same metrics the
 * same way (and `SeedRun`'s figures stay bit for bit what they were).
 */
import type { ManagedAgent } from '../../agents/base.js';
import type { VecStepResult } from '../../env/session-batch.js';
import type { Observation, Slate } from '../../env/types.js';
import type { SimWorld } from '../../env/world.js';
import { exposureGini } from '../metrics.js';
import type { SeedMetrics } from './runner.js';

/** The agent's slate for every session into `slates` and the step's flat buffer (−1 padded). */
export function actForAll(agent: ManagedAgent, obs: readonly Observation[], K: number, slates: Slate[], buf: Int32Array): void {
  buf.fill(-1);
  for (let s = 0; s < obs.length; s++) {
    const sl = agent.act(obs[s]!, K);
    slates[s] = sl;
    buf.set(sl.items.subarray(0, K), s * K);
  }
}

/** The learning curve: mean discounted return of the training sessions finished in each window. */
export class TrainCurve {
  readonly curve: { steps: number[]; value: number[] } = { steps: [], value: [] };
  private sum = 0;
  private count = 0;
  private nextAt: number;
  private readonly every: number;
  private readonly points: number;

  constructor(trainSteps: number, points: number) {
    this.every = Math.max(1, Math.floor(trainSteps / Math.max(1, points)));
    this.nextAt = this.every;
    this.points = points;
  }

  finished(discountedReturn: number): void {
    this.sum += discountedReturn;
    this.count++;
  }

  /** Close every window that `stepsDone` user-steps have passed. */
  advance(stepsDone: number): void {
    while (stepsDone >= this.nextAt && this.curve.steps.length < this.points) {
      this.curve.steps.push(this.nextAt);
      this.curve.value.push(this.count > 0 ? this.sum / this.count : NaN);
      this.sum = 0;
      this.count = 0;
      this.nextAt += this.every;
    }
  }
}

/** Hand every session's transition of one training step to the agent, and the finished sessions to the curve. */
export function observeAll(agent: ManagedAgent, obs: readonly Observation[], slates: readonly Slate[], r: VecStepResult, K: number, curve: TrainCurve): void {
  for (let s = 0; s < obs.length; s++) {
    const done = r.done[s] === 1;
    agent.observe({
      observation: obs[s]!,
      slate: slates[s]!,
      reward: r.rewards[s]!,
      parts: { R: r.R[s]!, G: r.G[s]!, A: r.A[s]!, itemG: r.g.slice(s * K, s * K + K) },
      clicks: r.clicks.slice(s * K, s * K + K),
      next: done ? r.terminal[s]! : r.observations[s]!,
      done,
    });
    if (done) curve.finished(r.episodeDiscounted[s]!);
  }
}

/**
 * Evaluation on exactly `sessions` sessions over `n` slots: only the first `sessions` sessions
 * started are counted (later starts are ignored, so long sessions are not under-counted).
 */
export class EvalTally {
  private readonly counted: Uint8Array;
  private started: number;
  private finishedN = 0;
  private readonly exposure: Int32Array;
  private shown = 0;
  private coldShown = 0;
  private steps = 0;
  private clicks = 0;
  private purchases = 0;
  private ratingSum = 0;
  private nRatings = 0;
  private ret = 0;
  private undisc = 0;
  private lengthSum = 0;
  private Rs = 0;
  private Gs = 0;
  private As = 0;
  private readonly sessions: number;
  private readonly K: number;
  private readonly cold: Uint8Array;

  constructor(n: number, sessions: number, world: SimWorld, K: number) {
    this.counted = new Uint8Array(n).fill(1);
    this.started = n;
    this.sessions = sessions;
    this.K = K;
    this.exposure = new Int32Array(world.nItems);
    this.cold = world.cold;
  }

  get done(): boolean {
    return this.finishedN >= this.sessions;
  }

  /** The slate shown in slot `s` (counts its exposure when the slot's session is counted). */
  shownIn(s: number, sl: Slate): void {
    if (!this.counted[s]) return;
    for (let p = 0; p < Math.min(this.K, sl.items.length); p++) {
      const i = sl.items[p]!;
      this.exposure[i]++;
      this.shown++;
      this.coldShown += this.cold[i]!;
    }
  }

  /** The step's outcome for every slot; `onSession` hears each counted session that finishes. */
  stepped(r: VecStepResult, onSession?: (done: number) => void): void {
    const K = this.K;
    for (let s = 0; s < this.counted.length; s++) {
      if (this.counted[s]) {
        this.steps++;
        this.Rs += r.R[s]!;
        this.Gs += r.G[s]!;
        this.As += r.A[s]!;
        for (let p = 0; p < K; p++) {
          this.clicks += r.clicks[s * K + p]!;
          this.purchases += r.purchases[s * K + p]!;
          const rt = r.ratings[s * K + p]!;
          if (!Number.isNaN(rt)) (this.ratingSum += rt), this.nRatings++;
        }
      }
      if (r.done[s]) {
        if (this.counted[s]) {
          this.finishedN++;
          this.ret += r.episodeDiscounted[s]!;
          this.undisc += r.episodeReturn[s]!;
          this.lengthSum += r.episodeLength[s]!;
          onSession?.(this.finishedN);
        }
        this.counted[s] = this.started < this.sessions ? 1 : 0;
        if (this.counted[s]) this.started++;
      }
    }
  }

  metrics(seed: number, trainMs: number, evalStartMs: number, curve: SeedMetrics['curve']): SeedMetrics {
    const sessions = this.sessions;
    const steps = Math.max(1, this.steps);
    return {
      seed,
      return: this.ret / sessions,
      undiscountedReturn: this.undisc / sessions,
      ctr: this.clicks / steps,
      sessionLength: this.lengthSum / sessions,
      exposureGini: exposureGini(this.exposure),
      coldExposureShare: this.coldShown / Math.max(1, this.shown),
      parts: { R: this.Rs / steps, G: this.Gs / steps, A: this.As / steps },
      purchasesPerSession: this.purchases / sessions,
      meanRating: this.nRatings > 0 ? this.ratingSum / this.nRatings : NaN,
      sessions,
      trainSeconds: trainMs / 1000,
      evalSeconds: (performance.now() - evalStartMs) / 1000,
      curve,
    };
  }
}
