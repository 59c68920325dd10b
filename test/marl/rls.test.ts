import { describe, expect, it } from 'vitest';
import { registerTeam } from '../../src/marl/register.js';
import { createAgent, restoreAgent } from '../../src/agents/registry.js';
import { LinearValue } from '../../src/marl/mixer.js';
import { JointRls } from '../../src/marl/rls.js';
import { cholesky, choleskySolve } from '../../src/util/linalg.js';
import { Rng } from '../../src/util/rng.js';
import { agentContract } from '../agents/contract.js';
import { toyContext } from '../agents/toy-context.js';

// The team is not in the agent and recommender registries until asked for (as the CLI does).
registerTeam();

/** Weighted ridge regression in closed form: argmin Σ_t w_t (y_t − θᵀx_t)² + w_0·ridge·|θ − θ₀|². */
function ridgeSolve(X: number[][], y: number[], w: number[], ridge: number | number[], w0: number, theta0: number[]): number[] {
  const D = theta0.length;
  const A = new Float64Array(D * D);
  const b = new Float64Array(D);
  const rd = (i: number): number => (typeof ridge === 'number' ? ridge : ridge[i]!);
  for (let i = 0; i < D; i++) (A[i * D + i] = w0 * rd(i)), (b[i] = w0 * rd(i) * theta0[i]!);
  X.forEach((x, t) => {
    for (let i = 0; i < D; i++) {
      b[i]! += w[t]! * y[t]! * x[i]!;
      for (let j = 0; j < D; j++) A[i * D + j]! += w[t]! * x[i]! * x[j]!;
    }
  });
  expect(cholesky(A, D)).toBe(true);
  choleskySolve(A, D, b);
  return Array.from(b);
}

/** Two models (dims 3 and 2) fitted jointly to y = Σ_k s_k·θ_kᵀφ_k on random rows with random scales. */
function feed(forget: number, n: number, ridge: number | number[]): { rls: JointRls; models: LinearValue[]; X: number[][]; y: number[]; theta0: number[] } {
  const rng = new Rng(5);
  const models = [new LinearValue(3, 0), new LinearValue(2, 0)];
  models[0]!.theta.set([0.3, 0, -0.2]);
  models[1]!.theta.set([0, 0.5]);
  const theta0 = [...models[0]!.theta, ...models[1]!.theta];
  const rls = new JointRls(models, ridge, forget, Infinity);
  const X: number[][] = [];
  const y: number[] = [];
  const truth = [1, -2, 0.5, 3, -1];
  for (let t = 0; t < n; t++) {
    const F = [Float64Array.from({ length: 3 }, () => rng.next() * 2 - 1), Float64Array.from({ length: 2 }, () => rng.next() * 2 - 1)];
    const s = [0.5 + rng.next(), 0.5 + rng.next()];
    const x = [...Array.from(F[0]!, (v) => v * s[0]!), ...Array.from(F[1]!, (v) => v * s[1]!)];
    const target = x.reduce((a, v, j) => a + v * truth[j]!, 0) + (rng.next() - 0.5) * 0.2;
    rls.step(F, [0, 0], s, target);
    X.push(x);
    y.push(target);
  }
  return { rls, models, X, y, theta0 };
}

describe('recursive least squares (JointRls)', () => {
  it('with β = 1 its parameters are exactly the ridge solution toward the starting parameters, over the joint scaled features', () => {
    const { models, X, y, theta0 } = feed(1, 40, 2);
    const want = ridgeSolve(X, y, X.map(() => 1), 2, 1, theta0);
    const got = [...models[0]!.theta, ...models[1]!.theta];
    got.forEach((v, j) => expect(v).toBeCloseTo(want[j]!, 9));
  });

  it('with one ridge per model, each block is held to its start by its own prior precision', () => {
    const { models, X, y, theta0 } = feed(1, 40, [0.5, 50]);
    const want = ridgeSolve(X, y, X.map(() => 1), [0.5, 0.5, 0.5, 50, 50], 1, theta0);
    const got = [...models[0]!.theta, ...models[1]!.theta];
    got.forEach((v, j) => expect(v).toBeCloseTo(want[j]!, 9));
    // The firmly held block stays nearer its start than under a common ridge of 0.5.
    const loose = feed(1, 40, 0.5).models[1]!.theta;
    expect(Math.abs(models[1]!.theta[0]! - theta0[3]!)).toBeLessThan(Math.abs(loose[0]! - theta0[3]!));
  });

  it('with β < 1 it is the exponentially weighted ridge solution (row t weighted β^(n−1−t), the prior β^n)', () => {
    const beta = 0.9;
    const n = 30;
    const { models, X, y, theta0 } = feed(beta, n, 1);
    const want = ridgeSolve(X, y, X.map((_, t) => beta ** (n - 1 - t)), 1, beta ** n, theta0);
    const got = [...models[0]!.theta, ...models[1]!.theta];
    got.forEach((v, j) => expect(v).toBeCloseTo(want[j]!, 8));
  });

  it('P stays symmetric and its φᵀPφ shrinks where data arrived', () => {
    const { rls } = feed(1, 25, 1);
    const D = rls.D;
    for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) expect(rls.P[i * D + j]).toBeCloseTo(rls.P[j * D + i]!, 12);
    const F = [Float64Array.of(1, 0, 0), Float64Array.of(0, 0)];
    expect(rls.variance(F, [0, 0], [1, 1])).toBeLessThan(1);
  });

  it('clips the error it steps on, and reports the unclipped one', () => {
    const v = new LinearValue(1, 0);
    const rls = new JointRls([v], 1, 1, 2);
    const err = rls.step([Float64Array.of(1)], [0], [1], 100);
    expect(err).toBe(100);
    // Gain Pφ/(1 + φᵀPφ) = 1/2, times the clipped error 2.
    expect(v.theta[0]).toBeCloseTo(1, 12);
  });

  it('rejects a ridge ≤ 0 or a forgetting factor outside (0, 1] with the field named', () => {
    expect(() => new JointRls([new LinearValue(2, 0)], 0, 1)).toThrow(/ridge/);
    expect(() => new JointRls([new LinearValue(2, 0)], 1, 1.5)).toThrow(/forget/);
    expect(() => new JointRls([new LinearValue(2, 0)], [1, 2], 1)).toThrow(/one value per model/);
  });
});

const ctx = toyContext({ nItems: 40, slateSize: 5 });
for (const coordination of ['vdn', 'weighted-vdn', 'qmix', 'comm', 'independent', 'value-sharing'] as const) {
  agentContract({
    name: `team (${coordination}, RLS learner)`,
    ctx,
    make: (seed) => createAgent('team', ctx, { seed, coordination, learner: 'rls' }),
    restore: (saved) => restoreAgent(saved, ctx),
  });
}
