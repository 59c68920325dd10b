/**
 * The interest-evolution family (`sim-interest-v1`): its dynamics on a toy world, then the
 * calibration statistics documented in docs/simulator.md ("Interest-evolution family") on
 * ml-latest-small (genre topics) and on the HetRec Last.fm set (NMF topics), and the check that
 * planning pays (quality-aware vs appeal-only greedy).
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dataset, IdMap, interactionsFrom } from '../../src/data/dataset.js';
import { createAgent } from '../../src/agents/registry.js';
import { itemSpaceFromTrain, type AgentContext } from '../../src/agents/state.js';
import { SIM_INTEREST_V1, type InterestParams } from '../../src/env/config.js';
import { budgetAfterWatch, evolveInterest, InterestVecEnv, upProbability } from '../../src/env/interest-env.js';
import { interestUtility, nmfItemTopics, type InterestWorld } from '../../src/env/interest-world.js';
import { buildPreset, createVecEnv, ratingFamilyEnv, type SimPreset } from '../../src/env/presets.js';
import { SessionEnv } from '../../src/env/session-env.js';
import { VecEnv } from '../../src/env/vec-env.js';
import type { Observation } from '../../src/env/types.js';
import { loadSimData, type SimData } from '../../src/eval/sim/data.js';
import { SeedRun } from '../../src/eval/sim/runner.js';
import { Rng } from '../../src/util/rng.js';
import { toyWorld } from './toy-world.js';

const P: InterestParams = structuredClone(SIM_INTEREST_V1.interest!);

/** Two topics, three documents: pure topic 0 (good), pure topic 1 (clickbait), an even mix. */
function tinyWorld(): InterestWorld {
  return {
    nItems: 3,
    nUsers: 1,
    nTopics: 2,
    topicSource: 'genres',
    topicNames: ['a', 'b'],
    topics: Float32Array.of(1, 0, 0, 1, 0.5, 0.5),
    quality: Float32Array.of(0.8, -0.8, 0),
    appeal: Float32Array.of(0, 2, 0),
    length: Float32Array.of(4, 4, 4),
    interest0: Float32Array.of(0, 0),
  };
}

describe('interest evolution and the time budget (unit)', () => {
  it('consuming a document moves interest only in its topics, toward +1 or −1 by RecSim\'s step α(x) = step·(1 − |x|)', () => {
    const w = tinyWorld();
    const x = Float32Array.of(0.2, -0.4);
    evolveInterest(w, P, x, 0, 0, true);
    expect(x[0]).toBeCloseTo(0.2 + P.interest.step * 0.8 * 1 * (1 - 0.2), 6);
    expect(x[1]).toBeCloseTo(-0.4, 6);
    const y = Float32Array.of(0.2, -0.4);
    evolveInterest(w, P, y, 0, 2, false);
    expect(y[0]).toBeCloseTo(0.2 + P.interest.step * 0.8 * 0.5 * (-1 - 0.2), 6);
    expect(y[1]).toBeCloseTo(-0.4 + P.interest.step * 0.6 * 0.5 * (-1 + 0.4), 6);
    // Bounded: many moves never leave [−1, 1].
    const rng = new Rng(3);
    const z = Float32Array.of(0.9, -0.9);
    for (let k = 0; k < 2000; k++) evolveInterest(w, P, z, 0, rng.int(3), rng.next() < 0.5);
    for (const v of z) expect(Math.abs(v)).toBeLessThanOrEqual(1);
  });

  it('good documents more often raise interest, clickbait more often lowers it; the probability stays in [0, 1]', () => {
    const w = tinyWorld();
    const x = Float32Array.of(0, 0);
    const good = upProbability(w, P, x, 0, 0);
    const bait = upProbability(w, P, x, 0, 1);
    expect(good).toBeGreaterThan(0.5);
    expect(bait).toBeLessThan(0.5);
    // The neutral document moves either way as often as RecSim's θ·(x + 1)/2 says.
    expect(upProbability(w, P, x, 0, 2)).toBeCloseTo(0.5, 6);
    expect(good - bait).toBeCloseTo(P.interest.qualityTilt * 1.6, 5);
    const hi = Float32Array.of(1, 1);
    expect(upProbability(w, P, hi, 0, 0)).toBe(1);
    const lo = Float32Array.of(-1, -1);
    expect(upProbability(w, P, lo, 0, 1)).toBe(0);
  });

  it('the budget pays the watch time, less a refund for quality above the threshold (more below it)', () => {
    expect(budgetAfterWatch(P, 10, 3, P.quality.threshold)).toBeCloseTo(7, 10);
    expect(budgetAfterWatch(P, 10, 3, 0.8)).toBeGreaterThan(7);
    expect(budgetAfterWatch(P, 10, 3, -0.8)).toBeLessThan(7);
    expect(budgetAfterWatch(P, 10, 3, 0.8) - 7).toBeCloseTo(3 * P.budget.refund * (0.8 - P.quality.threshold), 10);
  });
});

describe('interest-evolution sessions (toy world)', () => {
  const toy = toyWorld();
  const preset = buildPreset('sim-interest-v1', toy.full, toy.train);
  const iw = preset.interest!;
  const K = preset.config.slateSize;
  const p = preset.config.interest!;

  it('builds genre topics on the simplex, quality in (−1, 1), and dispatches to the interest sessions', () => {
    expect(iw.topicSource).toBe('genres');
    for (let i = 0; i < iw.nItems; i++) {
      let s = 0;
      for (let t = 0; t < iw.nTopics; t++) s += iw.topics[i * iw.nTopics + t]!;
      expect(s).toBeCloseTo(1, 5);
      expect(Math.abs(iw.quality[i]!)).toBeLessThan(1);
    }
    expect(createVecEnv(preset, 2)).toBeInstanceOf(InterestVecEnv);
    const rating = buildPreset('sim-ml-ls-v1', toy.full, toy.train);
    expect(rating.interest).toBeUndefined();
    expect(createVecEnv(rating, 2)).toBeInstanceOf(VecEnv);
  });

  it('without clicks a session lasts exactly ⌈B₀ / no-click penalty⌉ steps', () => {
    // Auto-reset keeps the finished slots running; only each slot's first session is counted.
    const env = new InterestVecEnv(iw, preset.world, preset.config, 6);
    env.reset(5);
    const b0 = Array.from({ length: 6 }, (_, s) => env.interestState(s).budget);
    const empty = new Int32Array(6 * K).fill(-1);
    const length = new Array<number>(6).fill(0);
    for (let step = 0; step < preset.config.horizon && length.some((l) => l === 0); step++) {
      const r = env.step(empty);
      for (let s = 0; s < 6; s++) if (r.done[s] && length[s] === 0) length[s] = r.episodeLength[s]!;
    }
    for (let s = 0; s < 6; s++) {
      expect(b0[s]).toBeGreaterThanOrEqual(p.budget.initial - p.budget.jitter / 2);
      expect(b0[s]).toBeLessThanOrEqual(p.budget.initial + p.budget.jitter / 2);
      expect(length[s]).toBe(Math.min(preset.config.horizon, Math.ceil(b0[s]! / p.budget.noClickPenalty)));
    }
  });

  it('a click spends w·(1 − ρ·(q − q₀)) of the budget, pays R = w / ℓ̄, and moves interests only in the item\'s topics', () => {
    const env = new InterestVecEnv(iw, preset.world, preset.config, 1, { autoReset: false });
    let obs = env.reset(11);
    let checked = 0;
    const rng = new Rng(4);
    for (let step = 0; step < 400 && checked < 20; step++) {
      const before = env.interestState(0);
      const slate = new Int32Array(K);
      for (let k = 0; k < K; k++) slate[k] = rng.int(iw.nItems);
      const r = env.step(slate);
      const pick = r.clicks.indexOf(1);
      if (pick >= 0 && !r.done[0]) {
        const i = slate[pick]!;
        const after = env.interestState(0);
        const w = r.R[0]! * p.length.mean;
        expect(w).toBeGreaterThan(0);
        expect(w).toBeLessThanOrEqual(iw.length[i]! + 1e-5);
        expect(after.budget).toBeCloseTo(before.budget - w * (1 - p.budget.refund * (iw.quality[i]! - p.quality.threshold)), 4);
        for (let t = 0; t < iw.nTopics; t++) if (iw.topics[i * iw.nTopics + t] === 0) expect(after.interest[t]).toBe(before.interest[t]);
        checked++;
      } else if (pick < 0 && !r.done[0]) {
        expect(env.interestState(0).budget).toBeCloseTo(before.budget - p.budget.noClickPenalty, 10);
      }
      expect(r.rewards[0]).toBeCloseTo(r.R[0]! + preset.config.reward.lambda * r.G[0]! + preset.config.reward.alpha * r.A[0]!, 5);
      if (r.done[0]) obs = env.reset(100 + step);
    }
    expect(obs.length).toBe(1);
    expect(checked).toBeGreaterThan(5);
  });

  it('runs one session under the Env contract and ends within the horizon', () => {
    const env = new SessionEnv(preset);
    const obs = env.reset(3);
    expect(obs.t).toBe(0);
    let steps = 0;
    let done = false;
    while (!done) {
      const r = env.step({ items: Int32Array.from({ length: K }, (_, k) => (steps * K + k) % iw.nItems) });
      expect(r.parts.itemG?.length).toBe(K);
      steps++;
      done = r.done;
    }
    expect(steps).toBeLessThanOrEqual(preset.config.horizon);
    expect(() => env.step({ items: Int32Array.of(0) })).toThrow(/after the session ended/);
  });

  it('the same seed gives the same numbers; another seed differs', () => {
    const trace = (seed: number): number[] => {
      const env = createVecEnv(preset, 4);
      env.reset(seed);
      const rng = new Rng(1);
      const out: number[] = [];
      for (let step = 0; step < 60; step++) {
        const slates = new Int32Array(4 * K);
        for (let k = 0; k < slates.length; k++) slates[k] = rng.int(iw.nItems);
        const r = env.step(slates);
        out.push(...r.rewards, ...r.done);
      }
      return out;
    };
    expect(trace(7)).toEqual(trace(7));
    expect(trace(7)).not.toEqual(trace(8));
  });

  it("agents train and evaluate on it through the simulate runner; oracle policies read this family's hidden state, and the rating family's readers refuse it", () => {
    const { items, userVectors } = itemSpaceFromTrain(toy.train, { dim: 4, iterations: 2 });
    const ctx: AgentContext = { items, userVectors, nUsers: toy.full.nUsers, slateSize: K, horizon: preset.config.horizon };
    const run = new SeedRun({ preset, ctx }, { agent: 'linucb', trainSteps: 200, nEnvs: 4, curvePoints: 2 }, 1);
    run.train(200);
    const m = run.evaluate(30);
    expect(Number.isFinite(m.return)).toBe(true);
    expect(m.sessionLength).toBeGreaterThan(1);
    expect(m.sessionLength).toBeLessThanOrEqual(preset.config.horizon);
    expect(m.ctr).toBeGreaterThan(0);
    let read = 0;
    run.evaluate(5, undefined, (o, slot, env) => {
      if (!(env instanceof InterestVecEnv)) throw new Error('expected the interest family');
      const h = env.interestState(slot);
      expect(h.user).toBe(o.user);
      expect(h.budget).toBeGreaterThan(0);
      read++;
      return { items: Int32Array.of(o.user % iw.nItems) };
    });
    expect(read).toBeGreaterThan(0);
    expect(() => run.evaluate(5, undefined, (o, _slot, env) => {
      ratingFamilyEnv(env, preset.config.preset);
      return { items: Int32Array.of(o.user % iw.nItems) };
    })).toThrow(/not a rating-model preset/);
  });
});

describe('NMF topics for data without genres', () => {
  it('recovers two blocks of items consumed by two groups of users', () => {
    const users = new IdMap();
    const items = new IdMap();
    for (let u = 0; u < 40; u++) users.add(`u${u}`);
    for (let i = 0; i < 30; i++) items.add(`i${i}`);
    const rng = new Rng(8);
    const u: number[] = [];
    const it: number[] = [];
    for (let a = 0; a < 40; a++) {
      for (let i = 0; i < 30; i++) {
        const sameBlock = (a < 20) === (i < 15);
        if (rng.next() < (sameBlock ? 0.6 : 0.03)) (u.push(a), it.push(i));
      }
    }
    const ds = new Dataset({ name: 'blocks', users, items, interactions: interactionsFrom({ user: u, item: it, value: u.map(() => 1) }) });
    const th = nmfItemTopics(ds, 2, 80, 1);
    const main = (i: number): number => (th[i * 2]! > th[i * 2 + 1]! ? 0 : 1);
    const first = main(0);
    let agree = 0;
    for (let i = 0; i < 30; i++) {
      expect(th[i * 2]! + th[i * 2 + 1]!).toBeCloseTo(1, 5);
      if ((main(i) === first) === (i < 15)) agree++;
    }
    expect(agree).toBeGreaterThanOrEqual(28);
  });
});

/** Run `sessions` sessions of a policy and collect the calibration statistics. */
function policyStats(preset: SimPreset, act: (obs: Observation) => Int32Array, sessions: number, seed = 2024) {
  const n = 50;
  const K = preset.config.slateSize;
  const env = createVecEnv(preset, n);
  let obs = env.reset(seed);
  const buf = new Int32Array(n * K);
  let done = 0;
  let steps = 0;
  let clicks = 0;
  let length = 0;
  let ret = 0;
  let firstSteps = 0;
  let firstClicks = 0;
  while (done < sessions) {
    buf.fill(-1);
    for (let s = 0; s < n; s++) buf.set(act(obs[s]!).subarray(0, K), s * K);
    const first = obs.map((o) => o.t === 0);
    const r = env.step(buf);
    for (let s = 0; s < n; s++) {
      let c = 0;
      for (let k = 0; k < K; k++) c += r.clicks[s * K + k]!;
      steps++;
      clicks += c;
      if (first[s]) (firstSteps += 1), (firstClicks += c);
      if (r.done[s]) (done += 1), (length += r.episodeLength[s]!), (ret += r.episodeDiscounted[s]!);
    }
    obs = r.observations;
  }
  return { ctr: clicks / steps, firstCtr: firstClicks / firstSteps, sessionLength: length / done, return: ret / done };
}

function agentPolicy(preset: SimPreset, ctx: AgentContext, name: string): (obs: Observation) => Int32Array {
  const agent = createAgent(name, ctx, { seed: 1 });
  agent.setTraining(false);
  return (obs) => agent.act(obs, preset.config.slateSize).items;
}

/** Greedy by a fixed item score, skipping consumed items. */
function greedyBy(preset: SimPreset, score: (i: number) => number): (obs: Observation) => Int32Array {
  const nI = preset.world.nItems;
  const order = Int32Array.from({ length: nI }, (_, i) => i).sort((a, b) => score(b) - score(a) || a - b);
  const K = preset.config.slateSize;
  return (obs) => {
    const seen = new Set(obs.history);
    const s = new Int32Array(K);
    let k = 0;
    for (let r = 0; r < nI && k < K; r++) if (!seen.has(order[r]!)) s[k++] = order[r]!;
    return s;
  };
}

/** Expected first-step click probability of a slate policy (noise-free initial interests): the myopic criterion. */
function expectedFirstCtr(preset: SimPreset, act: (obs: Observation) => Int32Array): number {
  const iw = preset.interest!;
  const p = preset.config.interest!;
  const w = preset.world;
  let m = 0;
  for (const u of w.users) {
    const slate = act({ user: u, history: w.histItems.slice(w.histIndptr[u]!, w.histIndptr[u + 1]!), t: 0 });
    let S = 0;
    for (let k = 0; k < slate.length; k++) S += Math.exp(interestUtility(iw, p, iw.interest0, u * iw.nTopics, slate[k]!, k));
    m += S / (S + Math.exp(p.choice.noClickUtility));
  }
  return m / w.users.length;
}

interface Ranges {
  random: { ctr: [number, number]; length: [number, number]; ret: [number, number] };
  popularity: { ctr: [number, number]; length: [number, number]; ret: [number, number] };
}

function calibrationSuite(label: string, data: SimData, topicSource: 'genres' | 'nmf', ranges: Ranges): void {
  describe(`sim-interest-v1 calibration (${label})`, () => {
    const preset = buildPreset('sim-interest-v1', data.full, data.train);
    const { items } = itemSpaceFromTrain(data.train, { dim: 4, iterations: 1 });
    const ctx: AgentContext = { items, nUsers: data.full.nUsers, slateSize: preset.config.slateSize, horizon: preset.config.horizon };
    const inRange = (v: number, [lo, hi]: [number, number]): void => {
      expect(v).toBeGreaterThan(lo);
      expect(v).toBeLessThan(hi);
    };

    it(`topics from ${topicSource}; every user with train data can start a session`, () => {
      expect(preset.interest!.topicSource).toBe(topicSource);
      expect(preset.world.users.length).toBeGreaterThan(0.9 * data.full.nUsers);
    });

    it(`random policy: CTR in (${ranges.random.ctr}), session length in (${ranges.random.length}), return in (${ranges.random.ret})`, () => {
      const s = policyStats(preset, agentPolicy(preset, ctx, 'random'), 1000);
      inRange(s.ctr, ranges.random.ctr);
      inRange(s.sessionLength, ranges.random.length);
      inRange(s.return, ranges.random.ret);
    });

    it(`popularity policy: first-step CTR at the target 0.35 ± 0.04, CTR in (${ranges.popularity.ctr}), session length in (${ranges.popularity.length}), return in (${ranges.popularity.ret})`, () => {
      const s = policyStats(preset, agentPolicy(preset, ctx, 'popularity'), 1000);
      expect(Math.abs(s.firstCtr - preset.config.calibration.targetFirstStepCtr)).toBeLessThan(0.04);
      inRange(s.ctr, ranges.popularity.ctr);
      inRange(s.sessionLength, ranges.popularity.length);
      inRange(s.return, ranges.popularity.ret);
    });

    it('planning pays: the appeal-only greedy wins the first step, the quality-aware greedy the session; clickbait burns the budget', () => {
      const iw = preset.interest!;
      const appealOnly = greedyBy(preset, (i) => iw.appeal[i]!);
      const qualityAware = greedyBy(preset, (i) => iw.appeal[i]! + 3 * iw.quality[i]!);
      const clickbait = greedyBy(preset, (i) => iw.appeal[i]! - 2 * iw.quality[i]!);
      expect(expectedFirstCtr(preset, appealOnly)).toBeGreaterThan(expectedFirstCtr(preset, qualityAware));
      const a = policyStats(preset, appealOnly, 2000, 77);
      const q = policyStats(preset, qualityAware, 2000, 77);
      const c = policyStats(preset, clickbait, 2000, 77);
      expect(q.return).toBeGreaterThan(1.03 * a.return);
      expect(q.sessionLength).toBeGreaterThan(a.sessionLength);
      expect(c.sessionLength).toBeLessThan(0.75 * a.sessionLength);
      expect(c.return).toBeLessThan(0.6 * a.return);
    });

    it('the same seed gives the same statistics', () => {
      const pol = agentPolicy(preset, ctx, 'popularity');
      expect(policyStats(preset, pol, 100, 9)).toEqual(policyStats(preset, pol, 100, 9));
    });
  });
}

// No skip when ../shared is missing: the load fails and names the folder.
const ML = await loadSimData(resolve(process.cwd(), '../shared/datasets/ml-latest-small'));
const LASTFM = await loadSimData(resolve(process.cwd(), '../shared/datasets/hetrec2011-lastfm-2k'));

calibrationSuite('ml-latest-small', ML, 'genres', {
  random: { ctr: [0.03, 0.1], length: [11, 18], ret: [1, 2.1] },
  popularity: { ctr: [0.28, 0.45], length: [16, 25], ret: [2.6, 4.2] },
});

calibrationSuite('HetRec Last.fm', LASTFM, 'nmf', {
  random: { ctr: [0.005, 0.05], length: [11, 19], ret: [0.8, 1.8] },
  popularity: { ctr: [0.25, 0.42], length: [15, 24], ret: [1.8, 3.0] },
});
