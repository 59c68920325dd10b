import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors.js';
import { SimEnv } from '../../src/env/sim-env.js';
import { VecEnv } from '../../src/env/vec-env.js';
import { clickUtility } from '../../src/env/world.js';
import { Rng } from '../../src/util/rng.js';
import { toyWorld } from './toy-world.js';

function randomSlates(rng: Rng, n: number, k: number, nItems: number): Int32Array {
  const s = new Int32Array(n * k);
  for (let x = 0; x < n; x++) {
    const used = new Set<number>();
    for (let p = 0; p < k; p++) {
      let i = rng.int(nItems);
      while (used.has(i)) i = rng.int(nItems);
      used.add(i);
      s[x * k + p] = i;
    }
  }
  return s;
}

describe('simulator (synthetic world)', () => {
  const { world, config } = toyWorld({ reward: { lambda: 0.3, alpha: 0.2 } });
  const K = config.slateSize;

  it('reward parts add up: r = R + λG + αA, and R follows clicks, purchases and ratings', () => {
    const env = new VecEnv(world, config, 8);
    env.reset(1);
    const rng = new Rng(2);
    let clicks = 0;
    for (let step = 0; step < 300; step++) {
      const r = env.step(randomSlates(rng, 8, K, world.nItems));
      for (let s = 0; s < 8; s++) {
        expect(r.rewards[s]).toBeCloseTo(r.R[s]! + 0.3 * r.G[s]! + 0.2 * r.A[s]!, 5);
        let R = 0;
        let nClick = 0;
        for (let p = 0; p < K; p++) {
          const c = r.clicks[s * K + p]!;
          nClick += c;
          if (c) R += config.reward.click + config.reward.purchase * r.purchases[s * K + p]! + (config.reward.rating * (r.ratings[s * K + p]! - 3)) / 2;
          else {
            expect(r.purchases[s * K + p]).toBe(0);
            expect(Number.isNaN(r.ratings[s * K + p]!)).toBe(true);
          }
        }
        expect(nClick).toBeLessThanOrEqual(1);
        clicks += nClick;
        expect(r.R[s]).toBeCloseTo(R, 5);
        expect(r.G[s]).toBeGreaterThanOrEqual(0);
        expect(r.G[s]).toBeLessThanOrEqual(1);
      }
    }
    expect(clicks).toBeGreaterThan(0);
  });

  it('the same seed gives the same numbers; another seed differs', () => {
    const trace = (seed: number) => {
      const env = new VecEnv(world, config, 4);
      env.reset(seed);
      const rng = new Rng(9);
      const out: number[] = [];
      for (let step = 0; step < 100; step++) {
        const r = env.step(randomSlates(rng, 4, K, world.nItems));
        out.push(...r.rewards, ...r.done);
      }
      return out;
    };
    expect(trace(3)).toEqual(trace(3));
    expect(trace(3)).not.toEqual(trace(4));
  });

  it('SimEnv runs one session under the Env contract and ends within the horizon', () => {
    const env = new SimEnv(world, config);
    const rng = new Rng(4);
    for (let ep = 0; ep < 20; ep++) {
      let obs = env.reset(100 + ep);
      expect(obs.t).toBe(0);
      let steps = 0;
      for (;;) {
        const slate = randomSlates(rng, 1, K, world.nItems);
        const r = env.step({ items: slate, propensities: new Float32Array(K).fill(0.5) });
        steps++;
        expect(r.info.clicks.length).toBe(K);
        expect(Array.from(r.info.propensities!)).toEqual(new Array(K).fill(0.5));
        expect(r.observation.t).toBe(obs.t + 1);
        // A click appends the item to the history.
        const clicked = r.info.clicks.indexOf(1);
        if (clicked >= 0) expect(r.observation.history[r.observation.history.length - 1]).toBe(slate[clicked]);
        obs = r.observation;
        if (r.done) break;
      }
      expect(steps).toBeLessThanOrEqual(config.horizon);
      expect(() => env.step({ items: randomSlates(rng, 1, K, world.nItems) })).toThrow(/reset/);
    }
  });

  it('never clicks an item already in the history', () => {
    const env = new SimEnv(world, config);
    const obs = env.reset(7);
    expect(obs.history.length).toBeGreaterThan(0);
    const items = new Int32Array(K).fill(-1);
    items[0] = obs.history[obs.history.length - 1]!;
    for (let rep = 0; rep < 5; rep++) {
      const r = env.step({ items });
      expect(r.info.clicks[0]).toBe(0);
      if (r.done) break;
    }
  });

  it('rejects bad slates with an error naming the position', () => {
    const env = new VecEnv(world, config, 1);
    env.reset(1);
    const bad = new Int32Array(K).fill(-1);
    bad[2] = world.nItems + 5;
    expect(() => env.step(bad)).toThrow(DataError);
    expect(() => env.step(bad)).toThrow(/slates\[2\]/);
    expect(() => env.step(new Int32Array(K + 1))).toThrow(/n × slateSize/);
  });

  it('satiation: consuming a genre lowers the utility of that genre and recovers over time', () => {
    const nC = world.categoryNames.length;
    const drift = new Float32Array(world.dim);
    const sat = new Float32Array(nC);
    const u = world.users[0]!;
    const item = 3;
    const fresh = clickUtility(world, config, u, item, 0, drift, 0, sat, 0);
    for (let c = world.catIndptr[item]!; c < world.catIndptr[item + 1]!; c++) sat[world.catIndices[c]!] = 2;
    const bored = clickUtility(world, config, u, item, 0, drift, 0, sat, 0);
    expect(bored).toBeLessThan(fresh - 1);
    for (let step = 0; step < 30; step++) for (let c = 0; c < nC; c++) sat[c]! *= config.satiation.decay;
    expect(clickUtility(world, config, u, item, 0, drift, 0, sat, 0)).toBeCloseTo(fresh, 1);
  });

  it('hiddenState: copies of the session state that follow clicks; an oracle reading it out-clicks random slates', () => {
    const n = 8;
    const clickRate = (oracle: boolean): number => {
      const env = new VecEnv(world, config, n);
      env.reset(5);
      const rng = new Rng(6);
      let clicks = 0;
      let steps = 0;
      for (let step = 0; step < 200; step++) {
        let slates = randomSlates(rng, n, K, world.nItems);
        if (oracle) {
          slates = new Int32Array(n * K);
          for (let s = 0; s < n; s++) {
            const h = env.hiddenState(s);
            const u = Array.from({ length: world.nItems }, (_, i) => (h.history.includes(i) ? -Infinity : clickUtility(world, config, h.user, i, 0, h.drift, 0, h.satiation, 0)));
            const order = u.map((_, i) => i).sort((a, b) => u[b]! - u[a]!);
            slates.set(order.slice(0, K), s * K);
          }
        }
        const before = env.hiddenState(0);
        const r = env.step(slates);
        steps += n;
        for (let x = 0; x < n * K; x++) clicks += r.clicks[x]!;
        const after = env.hiddenState(0);
        const clicked = Array.from({ length: K }, (_, p) => p).find((p) => r.clicks[p] === 1);
        if (clicked !== undefined && !r.done[0]) {
          // The clicked item joins the consumed items, and its genres' satiation rises (after one step of recovery).
          const item = slates[clicked]!;
          expect(after.history[after.history.length - 1]).toBe(item);
          const c = world.catIndices[world.catIndptr[item]!]!;
          expect(after.satiation[c]!).toBeGreaterThan(before.satiation[c]! * config.satiation.decay);
        }
      }
      return clicks / steps;
    };
    const env = new VecEnv(world, config, 2);
    env.reset(1);
    const h = env.hiddenState(1);
    h.satiation.fill(99);
    expect(env.hiddenState(1).satiation[0]).not.toBe(99);
    expect(() => env.hiddenState(2)).toThrow(DataError);
    expect(clickRate(true)).toBeGreaterThan(clickRate(false) + 0.05);
  });

  it('position bias: the same item is less attractive lower in the slate', () => {
    const drift = new Float32Array(world.dim);
    const sat = new Float32Array(world.categoryNames.length);
    const u = world.users[0]!;
    expect(clickUtility(world, config, u, 1, 4, drift, 0, sat, 0)).toBeLessThan(clickUtility(world, config, u, 1, 0, drift, 0, sat, 0));
  });

  it('calibration: the popularity slate gets the target first-step CTR', () => {
    const n = 2000;
    const env = new VecEnv(world, config, n);
    const obs = env.reset(11);
    const slates = new Int32Array(n * K).fill(-1);
    for (let s = 0; s < n; s++) {
      const hist = new Set(obs[s]!.history);
      let p = 0;
      for (let r = 0; r < world.nItems && p < K; r++) {
        const i = world.popularOrder[r]!;
        if (!hist.has(i)) slates[s * K + p++] = i;
      }
    }
    const r = env.step(slates);
    let clicks = 0;
    for (let k = 0; k < r.clicks.length; k++) clicks += r.clicks[k]!;
    expect(clicks / n).toBeGreaterThan(config.calibration.targetFirstStepCtr - 0.04);
    expect(clicks / n).toBeLessThan(config.calibration.targetFirstStepCtr + 0.04);
  });

  it('cold items carry the highest exposure value', () => {
    for (let i = 0; i < world.nItems; i++) {
      if (world.cold[i]) expect(world.exposureValue[i]).toBe(1);
      else expect(world.exposureValue[i]).toBeLessThanOrEqual(0.5);
    }
  });

  it('static exposure value (v1): G is the same however often an item is shown', () => {
    const env = new VecEnv(world, config, 1);
    env.reset(5);
    const slate = Int32Array.from({ length: K }, (_, p) => p);
    const g0 = env.step(slate).G[0]!;
    for (let t = 0; t < 5; t++) expect(env.step(slate).G[0]).toBeCloseTo(g0, 6);
  });
});

describe('fair-share exposure value (sim-ml-ls-v2)', () => {
  const { world, config } = toyWorld({ exposureValue: 'fair-share' });
  const K = config.slateSize;
  const slateOf = (start: number) => Int32Array.from({ length: K }, (_, p) => (start + p) % world.nItems);

  it('an item shown more than its fair share is worth less, exactly b_i / (1 + e_i / ē)', () => {
    const env = new VecEnv(world, config, 1, { autoReset: true });
    env.reset(3);
    const slate = slateOf(0);
    let expected = 0;
    for (let p = 0; p < K; p++) expected += world.exposureValue[p]!;
    expect(env.step(slate).G[0]).toBeCloseTo(expected / K, 5);
    // After t showings of the same slate: e_i = t, ē = max(1, t·K / nItems) = 1 while t·K ≤ nItems.
    for (let t = 1; t <= 3; t++) {
      const g = env.step(slate).G[0]!;
      expect(g).toBeCloseTo(expected / K / (1 + t), 5);
    }
    for (let p = 0; p < K; p++) expect(env.exposureValueOf(p)).toBeCloseTo(world.exposureValue[p]! / 5, 6);
  });

  it('rotating through the catalogue earns more G than repeating one slate', () => {
    const run = (rotate: boolean) => {
      const env = new VecEnv(world, config, 2);
      env.reset(9);
      let G = 0;
      for (let t = 0; t < 60; t++) {
        const a = slateOf(rotate ? 2 * t * K : 0);
        const b = slateOf(rotate ? (2 * t + 1) * K : K);
        const r = env.step(Int32Array.from([...a, ...b]));
        G += r.G[0]! + r.G[1]!;
      }
      return G;
    };
    expect(run(true)).toBeGreaterThan(1.5 * run(false));
  });

  it('reset clears the exposure counts: the same seed gives the same numbers', () => {
    const env = new VecEnv(world, config, 1);
    const trace = () => {
      env.reset(4);
      const out: number[] = [];
      for (let t = 0; t < 10; t++) out.push(env.step(slateOf(0)).G[0]!);
      return out;
    };
    expect(trace()).toEqual(trace());
  });
});
