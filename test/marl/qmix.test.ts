import { describe, expect, it } from 'vitest';
import { LinearValue } from '../../src/marl/mixer.js';
import { QmixNetwork } from '../../src/marl/qmix-network.js';
import type { QmixMode } from '../../src/marl/modes/index.js';
import { TeamAgent, TEAM_DEFAULTS, type TeamConfig } from '../../src/marl/team.js';
import { createAgent, restoreAgent } from '../../src/agents/registry.js';
import { registerTeam } from '../../src/marl/register.js';
import type { Observation } from '../../src/env/types.js';
import { Rng } from '../../src/util/rng.js';
import { toyContext } from '../agents/toy-context.js';
import { actUnshown } from './team-probe.js';

registerTeam();

/** A mixer with every parameter random (not its near-VDN start), so the checks see negative raw weights too. */
function randomNet(m: number, ds: number, hidden: number, seed: number): QmixNetwork {
  const rng = new Rng(seed);
  const net = new QmixNetwork(m, ds, hidden, 0.01, rng);
  for (let j = 0; j < net.params.length; j++) net.params[j] = rng.normal();
  return net;
}

function randomVec(rng: Rng, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => scale * rng.normal());
}

describe('QMIX mixing network', () => {
  it('is monotone in every agent’s value: random states, random values, finite increments', () => {
    const rng = new Rng(11);
    let checked = 0;
    for (let trial = 0; trial < 20; trial++) {
      const m = 2 + (trial % 4);
      const net = randomNet(m, 5, 1 + (trial % 6), 100 + trial);
      for (let t = 0; t < 50; t++) {
        net.setState(randomVec(rng, 5));
        const q = randomVec(rng, m, 3);
        const base = net.forward(q);
        for (let k = 0; k < m; k++) {
          const up = Float64Array.from(q);
          up[k]! += 0.01 + 5 * rng.next();
          expect(net.forward(up)).toBeGreaterThanOrEqual(base);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(3000);
  });

  it('is not additive: the mixed value of two agents is not a sum of one-agent parts', () => {
    const net = randomNet(2, 3, 4, 7);
    net.setState(Float64Array.of(0.3, -1, 0.5));
    // For an additive mixer f(a, b) = g(a) + h(b), the mixed difference is 0.
    const d = net.forward([2, 2]) - net.forward([2, -2]) - net.forward([-2, 2]) + net.forward([-2, -2]);
    expect(Math.abs(d)).toBeGreaterThan(1e-3);
  });

  it('gradients match finite differences: dQ/dq, dQ/dparams and dV/dparams', () => {
    const rng = new Rng(3);
    const m = 3;
    const ds = 4;
    const net = randomNet(m, ds, 5, 9);
    const s = randomVec(rng, ds);
    const q = randomVec(rng, m, 2);
    const h = 1e-6;
    net.setState(s);
    const dq = new Float64Array(m);
    net.forward(q, 0, dq);
    for (let k = 0; k < m; k++) {
      const qp = Float64Array.from(q);
      const qm = Float64Array.from(q);
      qp[k]! += h;
      qm[k]! -= h;
      const num = (net.forward(qp) - net.forward(qm)) / (2 * h);
      expect(Math.abs(dq[k]! - num)).toBeLessThan(1e-6 * (1 + Math.abs(num)));
    }
    // Parameters: the loss L = Q_mix(q) + 0.7·V(s), so accumulate with dOut = 1 and dV = 0.7.
    net.grads.fill(0);
    net.accumulateItem(q, 0, 1);
    net.accumulateBias(0.7);
    const analytic = Float64Array.from(net.grads);
    const loss = (): number => {
      net.setState(s);
      return net.forward(q) + 0.7 * net.V;
    };
    let worst = 0;
    for (let j = 0; j < net.params.length; j++) {
      const x = net.params[j]!;
      net.params[j] = x + h;
      const lp = loss();
      net.params[j] = x - h;
      const lm = loss();
      net.params[j] = x;
      const num = (lp - lm) / (2 * h);
      worst = Math.max(worst, Math.abs(analytic[j]! - num) / (1 + Math.abs(num)));
    }
    expect(worst).toBeLessThan(1e-5);
    // The check is not vacuous: most parameters get a gradient (V's inactive ReLU units do not).
    expect(analytic.filter((g) => g !== 0).length).toBeGreaterThan(0.6 * net.params.length);
  });

  /**
   * A cooperative task with a super-additive team value: two agents each see one signal x_k ∈ [0, 2]
   * of an item; the team earns 2·ReLU(x_1 + x_2 − 2 − s/2) + s/2 — something only when the two
   * signals together pass a state-dependent threshold. No sum of one-agent values fits it. Both
   * teams have linear agents (q_k = θ_kᵀ[x_k, 1]) trained by the same normalised LMS steps on the
   * team error; QMIX back-propagates it through the mixer (dQ/dq_k scales agent k's step) and trains
   * the mixer with Adam; VDN gets the state as a third additive part so that it can fit s/2.
   */
  it('fits a non-additive cooperative task that VDN cannot (mean squared error, held-out draws)', () => {
    const target = (x1: number, x2: number, s: number): number => 2 * Math.max(0, x1 + x2 - 2 - 0.5 * s) + 0.5 * s;
    function fit(kind: 'qmix' | 'vdn', seed: number): number {
      const rng = new Rng(seed);
      const draw = (): { x1: number; x2: number; s: Float64Array; y: number } => {
        const x1 = 2 * rng.next();
        const x2 = 2 * rng.next();
        const s = Float64Array.of(rng.normal(), 1);
        return { x1, x2, s, y: target(x1, x2, s[0]!) };
      };
      const agents = [new LinearValue(2, 0.01), new LinearValue(2, 0.01)];
      for (const a of agents) a.theta[0] = 1;
      const stateTerm = new LinearValue(2, 0.01);
      const net = new QmixNetwork(2, 2, 4, 0.01, new Rng(seed + 100));
      const dq = new Float64Array(2);
      const predict = (f: Float64Array[], s: Float64Array): { p: number; q: number[] } => {
        const q = agents.map((a, k) => a.value(f[k]!));
        if (kind === 'qmix') {
          net.setState(s);
          return { p: net.forward(q, 0, dq) + net.V, q };
        }
        dq.fill(1);
        return { p: q[0]! + q[1]! + stateTerm.value(s), q };
      };
      for (let t = 0; t < 5000; t++) {
        const { x1, x2, s, y } = draw();
        const f = [Float64Array.of(x1, 1), Float64Array.of(x2, 1)];
        const { p, q } = predict(f, s);
        const err = y - p;
        let norm = 1 + dq[0]! ** 2 * agents[0]!.sq(f[0]!, 0) + dq[1]! ** 2 * agents[1]!.sq(f[1]!, 0);
        if (kind === 'vdn') norm += stateTerm.sq(s, 0);
        agents.forEach((a, k) => a.accumulate(f[k]!, 0, err, dq[k]!, norm));
        if (kind === 'vdn') stateTerm.accumulate(s, 0, err, 1, norm);
        else {
          net.accumulateItem(q, 0, -err);
          net.accumulateBias(-err);
          net.step();
        }
        for (const a of [...agents, stateTerm]) a.apply();
      }
      let mse = 0;
      for (let t = 0; t < 2000; t++) {
        const { x1, x2, s, y } = draw();
        mse += (y - predict([Float64Array.of(x1, 1), Float64Array.of(x2, 1)], s).p) ** 2 / 2000;
      }
      return mse;
    }
    // The best any additive model of these features can do: least squares on [x1, x2, s, 1].
    const rng = new Rng(42);
    const X: number[][] = [];
    const Y: number[] = [];
    for (let t = 0; t < 4000; t++) {
      const x1 = 2 * rng.next();
      const x2 = 2 * rng.next();
      const s = rng.normal();
      X.push([x1, x2, s, 1]);
      Y.push(target(x1, x2, s));
    }
    const bestAdditive = leastSquaresMse(X, Y);
    for (const seed of [1, 2, 3]) {
      const q = fit('qmix', seed);
      const v = fit('vdn', seed);
      expect(v).toBeGreaterThan(0.8 * bestAdditive);
      expect(q).toBeLessThan(0.3 * bestAdditive);
      expect(q).toBeLessThan(0.3 * v);
    }
  });
});

describe('QMIX team (coordination qmix)', () => {
  const ctx = toyContext({ nItems: 40, slateSize: 5 });
  const make = (over: Partial<TeamConfig> = {}): TeamAgent => new TeamAgent(ctx, { seed: 4, ...TEAM_DEFAULTS, coordination: 'qmix', ...over });

  function train(t: TeamAgent, steps: number): void {
    const rng = new Rng(8);
    for (let s = 0; s < steps; s++) {
      const obs: Observation = { user: rng.int(8), history: Int32Array.of(rng.int(40)), t: s };
      const slate = t.act(obs, 5);
      // Clicks on even items: a reward the agents' values can learn.
      const clicks = Int32Array.from(slate.items, (i) => (i % 2 === 0 ? 1 : 0));
      const R = clicks.reduce((a, b) => a + b, 0);
      t.observe({ observation: obs, slate, reward: R + 0.1 * 0.3, parts: { R, G: 0.3, A: 0 }, clicks, next: { ...obs, t: s + 1 }, done: s % 5 === 4 });
      t.update();
    }
  }

  it('learns through the mixer: the mixing network and every agent’s value move', () => {
    const t = make();
    const net = (t.mode as QmixMode).net;
    const p0 = Float64Array.from(net.params);
    const th0 = t.values.map((v) => Float64Array.from(v.theta));
    train(t, 60);
    let moved = 0;
    for (let j = 0; j < p0.length; j++) moved = Math.max(moved, Math.abs(net.params[j]! - p0[j]!));
    expect(moved).toBeGreaterThan(1e-3);
    t.values.forEach((v, k) => expect(Math.max(...v.theta.map((x, j) => Math.abs(x - th0[k]![j]!)))).toBeGreaterThan(1e-4));
  });

  it('scores each item by Q_mix(q) − Q_mix(0), split exactly over the agents (contributions add up)', () => {
    const t = make();
    train(t, 40);
    t.setTraining(false);
    const obs: Observation = { user: 2, history: Int32Array.of(5, 9), t: 0 };
    const slate = actUnshown(t, obs, 5);
    const net = (t.mode as QmixMode).net;
    const ex = t.explain(obs, slate);
    let prev = Infinity;
    for (const [p, item] of Array.from(slate.items).entries()) {
      const q = t.views.map((v, k) => {
        const x = new Float64Array(v.dim);
        v.features(obs, Int32Array.of(item), 1, x);
        return t.values[k]!.value(x, 0);
      });
      // The team's state encoding of obs (the mixer's state was that of the last evaluation: obs).
      const mixed = net.forward(q) - net.forward(q.map(() => 0));
      expect(Math.abs(slate.scores![p]! - mixed)).toBeLessThan(1e-5 * (1 + Math.abs(mixed)));
      const sum = Object.values(ex[p]!.contributions).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - ex[p]!.score)).toBeLessThan(1e-12);
      // Greedy by the mixed value: best first.
      expect(mixed).toBeLessThanOrEqual(prev + 1e-9);
      prev = mixed;
    }
  });

  it('takes only weighted fusion (the mixer is the fusion), and names the field', () => {
    for (const fusion of ['borda', 'rrf', 'meta'] as const) expect(() => make({ fusion })).toThrow(/fusion/);
  });

  it('refuses a team saved when "qmix" named the state-weighted VDN, and says how to load it', () => {
    const old = createAgent('team', ctx, { seed: 1, coordination: 'weighted-vdn' });
    const saved = old.toJSON();
    // A file from before the rename: same state, coordination "qmix".
    const renamed = { ...saved, config: { ...(saved.config as Record<string, unknown>), coordination: 'qmix' } };
    expect(() => restoreAgent(renamed, ctx)).toThrow(/weighted-vdn/);
  });
});

/** Mean squared residual of the least-squares fit of Y on X (normal equations, Gaussian elimination). */
function leastSquaresMse(X: number[][], Y: number[]): number {
  const d = X[0]!.length;
  const A = Array.from({ length: d }, () => new Float64Array(d + 1));
  for (let r = 0; r < X.length; r++) {
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) A[i]![j]! += X[r]![i]! * X[r]![j]!;
      A[i]![d]! += X[r]![i]! * Y[r]!;
    }
  }
  for (let i = 0; i < d; i++) {
    for (let r = i + 1; r < d; r++) {
      const f = A[r]![i]! / A[i]![i]!;
      for (let j = i; j <= d; j++) A[r]![j]! -= f * A[i]![j]!;
    }
  }
  const b = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let t = A[i]![d]!;
    for (let j = i + 1; j < d; j++) t -= A[i]![j]! * b[j]!;
    b[i] = t / A[i]![i]!;
  }
  let mse = 0;
  for (let r = 0; r < X.length; r++) {
    let p = 0;
    for (let j = 0; j < d; j++) p += b[j]! * X[r]![j]!;
    mse += (Y[r]! - p) ** 2 / X.length;
  }
  return mse;
}
