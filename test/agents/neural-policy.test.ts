/** The math under the policy-gradient agents: the softmax slate policy's gradient and λ_K. */
import { describe, expect, it } from 'vitest';
import { CandidateSource, PairFeatures } from '../../src/agents/neural.js';
import { topKMultiplier } from '../../src/agents/reinforce.js';
import { SoftmaxPolicy, type PolicyStep } from '../../src/agents/softmax-policy.js';
import { jsKernels, kernels, setKernels } from '../../src/nn/index.js';
import { Rng } from '../../src/util/rng.js';
import { ToyEnv, toyContext } from './neural-toy.js';

describe('SoftmaxPolicy.gradientStep', () => {
  it('applies the gradient of −mean Σ w·log π (+ entropy) — checked by finite differences', () => {
    const prev = kernels();
    setKernels(jsKernels);
    try {
      const ctx = toyContext();
      const source = new CandidateSource(ctx, 10, 3);
      const pairs = new PairFeatures(ctx, source, { contextDim: 3 });
      const rng = new Rng(4);
      const policy = new SoftmaxPolicy(pairs, source, [8], 1e-3, rng);
      const env = new ToyEnv();
      const steps: PolicyStep[] = [];
      for (let e = 0; e < 3; e++) steps.push(policy.act(env.reset(e), 2, rng, true).step);
      const weights = steps.map((_, t) => Float32Array.of(0.3 * (t + 1), -0.2));
      const entropyCoef = 0.05;
      const objective = (): number => {
        const probs = policy.probabilities(steps);
        let L = 0;
        for (let t = 0; t < steps.length; t++) {
          for (let a = 0; a < 2; a++) L -= weights[t]![a]! * Math.log(probs[t]![a]!);
        }
        // Entropy of each step's full distribution, from a second pass over the candidates.
        let H = 0;
        for (const st of steps) {
          const all: PolicyStep = { ...st, actions: Int32Array.from(st.cands, (_, q) => q) };
          for (const p of policy.probabilities([all])[0]!) H -= p * Math.log(p);
        }
        return (L - entropyCoef * H) / steps.length;
      };
      const before = Float32Array.from(policy.net.params);
      policy.probabilities(steps);
      policy.gradientStep(steps, weights, entropyCoef);
      const grad = Float32Array.from(policy.net.grads);
      policy.net.params.set(before);
      let norm = 0;
      for (const g of grad) norm += g * g;
      expect(Math.sqrt(norm)).toBeLessThan(5); // below the clip, so grads are the raw gradient
      const eps = 1e-2;
      for (let i = 0; i < before.length; i += 7) {
        policy.net.params[i] = before[i]! + eps;
        const lp = objective();
        policy.net.params[i] = before[i]! - eps;
        const lm = objective();
        policy.net.params[i] = before[i]!;
        const fd = (lp - lm) / (2 * eps);
        expect(Math.abs(fd - grad[i]!)).toBeLessThan(1e-3 + 2e-2 * Math.abs(fd));
      }
    } finally {
      setKernels(prev);
    }
  });
});

describe('top-K off-policy correction', () => {
  it('λ_K = K(1−π)^{K−1} is dα/dπ for α = 1 − (1−π)^K', () => {
    for (const K of [1, 2, 5, 10])
      for (const p of [0.01, 0.2, 0.7]) {
        const alpha = (q: number): number => 1 - (1 - q) ** K;
        const fd = (alpha(p + 1e-6) - alpha(p - 1e-6)) / 2e-6;
        expect(topKMultiplier(p, K)).toBeCloseTo(fd, 5);
      }
    // K = 1 is plain REINFORCE; for small π the multiplier approaches K.
    expect(topKMultiplier(0.3, 1)).toBe(1);
    expect(topKMultiplier(1e-6, 10)).toBeCloseTo(10, 3);
  });
});

describe('SessionTracker', () => {
  it('keeps interleaved sessions of the same user apart (chained by observation identity)', async () => {
    const { SessionTracker } = await import('../../src/agents/neural.js');
    const tracker = new SessionTracker<string>();
    const mk = (t: number) => ({ user: 5, history: new Int32Array(0), t });
    const a0 = mk(0);
    const b0 = mk(0);
    const a1 = mk(1);
    const b1 = mk(1);
    const slate = { items: new Int32Array(0) };
    const tr = (o: ReturnType<typeof mk>, n: ReturnType<typeof mk>, done = false) => ({ observation: o, slate, reward: 0, next: n, done });
    let id = 0;
    const create = (): string => `s${id++}`;
    expect(tracker.session(tr(a0, a1), create)).toBe('s0');
    expect(tracker.session(tr(b0, b1), create)).toBe('s1');
    expect(tracker.session(tr(a1, mk(2), true), create)).toBe('s0');
    expect(tracker.session(tr(b1, mk(2)), create)).toBe('s1');
    expect(tracker.session(tr(mk(0), mk(1)), create)).toBe('s2');
  });
});
