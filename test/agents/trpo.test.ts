/**
 * TRPO (src/agents/trpo.ts, natural-gradient.ts): conjugate gradient solves SPD systems; the
 * Fisher-vector product equals an explicitly built Fisher (float64 Jacobians by central
 * differences) times v, and is the mean KL's curvature; one trust-region step keeps the measured
 * KL within δ and improves the surrogate (else leaves θ alone); GAE along interleaved sessions;
 * the agent learns a bandit where one item is always rewarded (the multi-step toy task is in
 * neural.test.ts with the other neural agents); save/load mid-rollout; same seed, same numbers;
 * config errors name their field.
 */
import { describe, expect, it } from 'vitest';
import { conjugateGradient, SoftmaxTrustRegion, type TrustRegionOptions } from '../../src/agents/natural-gradient.js';
import { CandidateSource, PairFeatures } from '../../src/agents/neural.js';
import { createAgent, restoreAgent } from '../../src/agents/registry.js';
import { SoftmaxPolicy, type PolicyStep } from '../../src/agents/softmax-policy.js';
import { gaeAdvantages } from '../../src/agents/policy-gradient.js';
import type { TrpoAgent } from '../../src/agents/trpo.js';
import type { ManagedAgent, SavedAgent } from '../../src/agents/base.js';
import type { Observation } from '../../src/env/types.js';
import { Rng } from '../../src/util/rng.js';
import { parse, stringify } from '../../src/util/serialize.js';
import { forward64 } from '../nn/mlp64.js';
import { oneHotContext, toyContext } from './toy-context.js';

const OPTIONS: TrustRegionOptions = { maxKl: 0.01, damping: 0.1, cgIters: 10, cgTol: 1e-8, backtrackIters: 10, backtrackFactor: 0.5 };

function observation(rng: Rng, nItems: number): Observation {
  const history = Int32Array.from({ length: rng.int(3) }, () => rng.int(nItems));
  return { user: rng.int(8), history, t: rng.int(5), context: Float32Array.of(rng.int(2), rng.next()) };
}

/** A small softmax policy over a 40-item space and `n` acted steps of it. */
function policyAndSteps(hidden: number[], n: number, seed: number): { policy: SoftmaxPolicy; steps: PolicyStep[]; rng: Rng } {
  const ctx = toyContext({ nItems: 40 });
  const source = new CandidateSource(ctx, 8, 2);
  const policy = new SoftmaxPolicy(new PairFeatures(ctx, source), source, hidden, 1e-3, new Rng(seed));
  const rng = new Rng(seed + 1);
  const steps: PolicyStep[] = [];
  for (let t = 0; t < n; t++) {
    const obs = observation(rng, 40);
    steps.push({ ...policy.act(obs, 3, rng, true).step, obs });
  }
  return { policy, steps, rng };
}

/** Full candidate distributions π(·|s) of every step under the policy's current parameters. */
function distributions(policy: SoftmaxPolicy, steps: PolicyStep[]): Float32Array[] {
  const all = steps.map((s) => ({ ...s, actions: Int32Array.from(s.cands, (_, q) => q), behaviour: new Float32Array(s.cands.length).fill(1) }));
  return policy.probabilities(all).map((p) => Float32Array.from(p));
}

function meanKl(before: Float32Array[], after: Float32Array[]): number {
  let kl = 0;
  before.forEach((p, s) => p.forEach((ps, q) => (kl += ps > 0 ? ps * Math.log(ps / after[s]![q]!) : 0)));
  return kl / before.length;
}

function surrogate(dist: Float32Array[], steps: PolicyStep[], adv: Float32Array): number {
  let l = 0;
  steps.forEach((s, t) => s.actions.forEach((a, j) => (l += (dist[t]![a]! / s.behaviour[j]!) * adv[t]!)));
  return l / steps.length;
}

describe('conjugateGradient', () => {
  it('solves a random SPD system to the tolerance, within n iterations', () => {
    const rng = new Rng(3);
    const n = 25;
    const m = Float64Array.from({ length: n * n }, () => rng.normal());
    // A = MᵀM / n + 0.5 I: symmetric positive definite, moderately conditioned.
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = i === j ? 0.5 : 0;
      for (let k = 0; k < n; k++) s += (m[k * n + i]! * m[k * n + j]!) / n;
      A[i * n + j] = s;
    }
    const Av = (v: Float64Array, out: Float64Array): void => {
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += A[i * n + j]! * v[j]!;
        out[i] = s;
      }
    };
    const b = Float64Array.from({ length: n }, () => rng.normal());
    const { x, iterations, residual } = conjugateGradient(Av, b, 100, 1e-10);
    const ax = new Float64Array(n);
    Av(x, ax);
    const err = Math.hypot(...ax.map((v, i) => v - b[i]!)) / Math.hypot(...b);
    expect(err).toBeLessThan(1e-8);
    expect(residual).toBeLessThanOrEqual(1e-10);
    expect(iterations).toBeLessThanOrEqual(n + 5);
    // Capped iterations stop early with a larger residual, and report it honestly.
    const short = conjugateGradient(Av, b, 3, 1e-10);
    expect(short.iterations).toBe(3);
    Av(short.x, ax);
    expect(Math.hypot(...ax.map((v, i) => v - b[i]!)) / Math.hypot(...b)).toBeCloseTo(short.residual, 6);
    expect(short.residual).toBeGreaterThan(1e-6);
  });

  it('returns zero for a zero right-hand side', () => {
    const r = conjugateGradient(() => {}, new Float64Array(4), 10, 1e-8);
    expect([...r.x]).toEqual([0, 0, 0, 0]);
    expect(r.iterations).toBe(0);
  });
});

describe('SoftmaxFisher', () => {
  const { policy, steps, rng } = policyAndSteps([4], 5, 21);
  const net = policy.net;
  const tr = new SoftmaxTrustRegion(policy);
  const offsets = tr.prepare(steps);
  const rows = offsets[steps.length]!;
  const x = new Float32Array(rows * policy.pairs.dim);
  steps.forEach((s, t) => policy.pairs.fill(s.obs, s.cands, x, offsets[t]!));
  const theta = Float64Array.from(net.params);
  const P = theta.length;

  /** Per-state softmax of float64 logits. */
  const softmax = (z: Float64Array): Float64Array[] =>
    steps.map((_, s) => {
      const g = z.subarray(offsets[s]!, offsets[s + 1]!);
      const mx = Math.max(...g);
      const e = g.map((v) => Math.exp(v - mx));
      const sum = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / sum);
    });

  it('F·v equals the explicit Fisher (from finite-difference Jacobians) times v, plus damping', () => {
    // J (rows × P) by central differences of the float64 forward, one parameter at a time.
    const h = 1e-6;
    const J = new Float64Array(rows * P);
    for (let i = 0; i < P; i++) {
      const up = Float64Array.from(theta);
      const down = Float64Array.from(theta);
      up[i]! += h;
      down[i]! -= h;
      const zu = forward64(net, up, x, rows);
      const zd = forward64(net, down, x, rows);
      for (let r = 0; r < rows; r++) J[r * P + i] = (zu[r]! - zd[r]!) / (2 * h);
    }
    const p = softmax(forward64(net, theta, x, rows));
    // F = (1/N) Σ_s J_sᵀ (diag p_s − p_s p_sᵀ) J_s, built entry by entry.
    const F = new Float64Array(P * P);
    steps.forEach((_, s) => {
      const o = offsets[s]!;
      const n = offsets[s + 1]! - o;
      for (let q = 0; q < n; q++) for (let r = 0; r < n; r++) {
        const m = ((q === r ? p[s]![q]! : 0) - p[s]![q]! * p[s]![r]!) / steps.length;
        if (m === 0) continue;
        for (let i = 0; i < P; i++) {
          const a = m * J[(o + q) * P + i]!;
          for (let j = 0; j < P; j++) F[i * P + j]! += a * J[(o + r) * P + j]!;
        }
      }
    });
    const v = Float64Array.from({ length: P }, () => rng.normal());
    const want = Float64Array.from({ length: P }, (_, i) => F.subarray(i * P, (i + 1) * P).reduce((s, f, j) => s + f * v[j]!, 0));
    const got = new Float64Array(P);
    tr.fisher.product(v, got);
    const scale = Math.max(...want.map(Math.abs));
    expect(scale).toBeGreaterThan(1e-3);
    expect(Math.max(...got.map((g, i) => Math.abs(g - want[i]!))) / scale).toBeLessThan(1e-3);
    const damped = new Float64Array(P);
    tr.fisher.product(v, damped, 0.5);
    damped.forEach((d, i) => expect(d).toBeCloseTo(got[i]! + 0.5 * v[i]!, 5));
  });

  it('is the curvature of the mean KL: vᵀF v ≈ 2·KL(π_θ ‖ π_θ+εv) / ε²', () => {
    const v = Float64Array.from({ length: P }, () => rng.normal());
    const fv = new Float64Array(P);
    tr.fisher.product(v, fv);
    const vfv = v.reduce((s, vi, i) => s + vi * fv[i]!, 0);
    const eps = 1e-3;
    const p = softmax(forward64(net, theta, x, rows));
    const q = softmax(forward64(net, Float64Array.from(theta, (t, i) => t + eps * v[i]!), x, rows));
    let kl = 0;
    p.forEach((ps, s) => ps.forEach((pv, r) => (kl += pv * Math.log(pv / q[s]![r]!))));
    kl /= steps.length;
    expect(vfv).toBeGreaterThan(0);
    expect((2 * kl) / (eps * eps) / vfv).toBeCloseTo(1, 2);
  });

  it('leaves the parameters unchanged', () => {
    const before = Float32Array.from(net.params);
    tr.fisher.product(Float64Array.from({ length: P }, () => 1), new Float64Array(P));
    expect([...net.params]).toEqual([...before]);
  });
});

describe('SoftmaxTrustRegion.step', () => {
  for (const [maxKl, damping, seed] of [[0.01, 0.1, 5], [0.05, 0.01, 6], [0.5, 0.01, 7]] as const) {
    it(`keeps the measured mean KL within δ = ${maxKl} (damping ${damping}) and improves the surrogate`, () => {
      const { policy, steps, rng } = policyAndSteps([8], 48, seed);
      const adv = Float32Array.from(steps, () => rng.normal());
      const before = distributions(policy, steps);
      const stats = new SoftmaxTrustRegion(policy).step(steps, adv, { ...OPTIONS, maxKl, damping });
      const after = distributions(policy, steps);
      expect(stats.accepted).toBe(true);
      expect(stats.cgIterations).toBeGreaterThan(0);
      const kl = meanKl(before, after);
      expect(kl).toBeGreaterThan(0);
      expect(kl).toBeLessThanOrEqual(maxKl * 1.001 + 1e-6);
      expect(kl).toBeCloseTo(stats.kl, 4);
      const l0 = surrogate(before, steps, adv);
      const l1 = surrogate(after, steps, adv);
      expect(l1).toBeGreaterThan(l0);
      expect(l1 - l0).toBeCloseTo(stats.surrogateAfter - stats.surrogateBefore, 4);
      // The kept step is the full step or a backtracked power of the factor.
      expect(Math.log2(stats.stepFraction)).toBe(Math.round(Math.log2(stats.stepFraction)));
    });
  }

  it('backtracks when the full step leaves the trust region, and keeps θ_old when no step is acceptable', () => {
    // Here the quadratic model under-estimates the KL: the full step (which improves the
    // surrogate) measures about 0.08 > δ = 0.05, so the search must shrink it.
    const big = policyAndSteps([8], 48, 8);
    const adv = Float32Array.from(big.steps, () => big.rng.normal());
    const before = distributions(big.policy, big.steps);
    const stats = new SoftmaxTrustRegion(big.policy).step(big.steps, adv, { ...OPTIONS, maxKl: 0.05, damping: 1e-3 });
    expect(stats.accepted).toBe(true);
    expect(stats.stepFraction).toBeLessThan(1);
    expect(meanKl(before, distributions(big.policy, big.steps))).toBeLessThanOrEqual(0.05);

    // Zero advantages: no direction improves the surrogate, so nothing moves.
    const { policy, steps } = policyAndSteps([8], 16, 9);
    const params = Float32Array.from(policy.net.params);
    const none = new SoftmaxTrustRegion(policy).step(steps, new Float32Array(steps.length), OPTIONS);
    expect(none.accepted).toBe(false);
    expect([...policy.net.params]).toEqual([...params]);
  });
});

describe('gaeAdvantages', () => {
  it('runs GAE along each session of an interleaved rollout, bootstrapping where the rollout cuts one', () => {
    const rng = new Rng(4);
    const n = 12;
    const sessions = Int32Array.from({ length: n }, () => rng.int(3));
    const dones = Array.from(sessions, (s, t) => t === sessions.lastIndexOf(s) && s !== 2); // session 2 is cut
    const rewards = Float64Array.from({ length: n }, () => rng.next());
    const v = Float32Array.from({ length: n }, () => rng.normal());
    const vNext = Float32Array.from({ length: n }, () => rng.normal());
    const gamma = 0.9;
    const lambda = 0.7;
    const adv = gaeAdvantages(rewards, dones, sessions, v, vNext, gamma, lambda);
    // Reference: per session, A_t = Σ_k (γλ)^k δ_{t+k} over the session's later transitions.
    for (let t = 0; t < n; t++) {
      const later = [...sessions.keys()].filter((u) => u >= t && sessions[u] === sessions[t]);
      let want = 0;
      later.forEach((u, k) => (want += (gamma * lambda) ** k * (rewards[u]! + (dones[u] ? 0 : gamma * vNext[u]!) - v[u]!)));
      expect(adv[t]).toBeCloseTo(want, 5);
    }
  });
});

/** One-step bandit over 10 one-hot items where item 3 is always rewarded. */
function trainBandit(agent: ManagedAgent, steps: number): void {
  for (let s = 0; s < steps; s++) {
    const obs: Observation = { user: 0, history: new Int32Array(0), t: 0 };
    const slate = agent.act(obs, 1);
    const reward = slate.items[0] === 3 ? 1 : 0;
    agent.observe({ observation: obs, slate, reward, next: { user: 0, history: new Int32Array(0), t: 1 }, done: true });
    agent.update();
  }
}

/** How often the agent's sampled (training-mode) slate shows item 3. */
function shareOfItem3(agent: ManagedAgent, draws: number): number {
  let hits = 0;
  for (let d = 0; d < draws; d++) hits += agent.act({ user: 0, history: new Int32Array(0), t: 0 }, 1).items[0] === 3 ? 1 : 0;
  return hits / draws;
}

describe('TrpoAgent', () => {
  const bandit = (seed: number, extra: Record<string, unknown> = {}) => createAgent('trpo', oneHotContext(10), { hidden: [16], rolloutSteps: 64, seed, ...extra });

  it('learns a bandit where one item is always rewarded: its probability rises far above chance', () => {
    const agent = bandit(2);
    const chance = shareOfItem3(agent, 400);
    expect(chance).toBeLessThan(0.2);
    trainBandit(agent, 64 * 16);
    expect((agent as TrpoAgent).lastUpdate?.accepted).toBe(true);
    expect((agent as TrpoAgent).lastUpdate!.kl).toBeLessThanOrEqual(0.01 * 1.001);
    expect(shareOfItem3(agent, 400)).toBeGreaterThan(0.7);
  });

  it('save/load mid-rollout: the restored agent acts, learns and ends identically', () => {
    const a = bandit(3);
    trainBandit(a, 64 * 2 + 30); // two updates, 30 transitions waiting in the rollout
    const b = restoreAgent(parse(stringify(a.toJSON())) as SavedAgent, oneHotContext(10));
    trainBandit(a, 100);
    trainBandit(b, 100);
    expect(stringify(b.toJSON())).toBe(stringify(a.toJSON()));
    expect((b as TrpoAgent).lastUpdate?.accepted).toBe(true);
  });

  it('same seed → same numbers; another seed differs', () => {
    const run = (seed: number): string => {
      const a = bandit(seed);
      trainBandit(a, 64 * 3);
      return stringify(a.toJSON());
    };
    expect(run(5)).toBe(run(5));
    expect(run(5)).not.toBe(run(6));
  });

  it('names a bad option', () => {
    expect(() => createAgent('trpo', oneHotContext(10), { maxKl: 0 })).toThrow(/maxKl/);
    expect(() => createAgent('trpo', oneHotContext(10), { backtrackFactor: 1 })).toThrow(/backtrackFactor/);
    expect(() => createAgent('trpo', oneHotContext(10), { cgIters: 0 })).toThrow(/cgIters/);
    expect(() => createAgent('trpo', oneHotContext(10), { damping: -1 })).toThrow(/damping/);
  });
});
