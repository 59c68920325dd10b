import { describe, expect, it } from 'vitest';
import { pseudoInverseWeight, slateEstimates, type SlateLog } from '../../src/ope/slates.js';

/**
 * A tiny slate problem enumerated by brute force: m = 3 actions, K = 2 slots, an additive reward
 * E[r | s] = φ[0][s_0] + φ[1][s_1]. Expectations over the logging policy are exact sums over
 * every slate, so unbiasedness is checked to rounding error, not statistically.
 */
const m = 3;
const K = 2;
const phi = [
  [0.9, 0.2, 0.4],
  [0.1, 0.6, 0.3],
];
const slates: [number, number][] = [];
for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) slates.push([a, b]);
const reward = (s: [number, number]) => phi[0]![s[0]]! + phi[1]![s[1]]!;

/** A target over distinct-item slates (not a product): prefers action 0 first, then 1. */
const piSlate = new Map<string, number>([
  ['0,1', 0.5],
  ['0,2', 0.1],
  ['1,0', 0.2],
  ['2,1', 0.15],
  ['1,2', 0.05],
]);
const pi = (s: [number, number]) => piSlate.get(s.join(',')) ?? 0;
const truth = slates.reduce((v, s) => v + pi(s) * reward(s), 0);

function marginals(dist: (s: [number, number]) => number): number[][] {
  const out = [new Array(m).fill(0), new Array(m).fill(0)];
  for (const s of slates) for (let j = 0; j < K; j++) out[j]![s[j]!] += dist(s);
  return out;
}

function gammaOf(dist: (s: [number, number]) => number): Float64Array {
  const d = K * m;
  const g = new Float64Array(d * d);
  for (const s of slates) {
    const p = dist(s);
    const idx = [s[0], m + s[1]];
    for (const a of idx) for (const b of idx) g[a * d + b] += p;
  }
  return g;
}

/** One-slate log of `s` with per-slot rewards φ, for the expectation sums. */
function oneSlate(s: [number, number], mu: number[][], piM: number[][]) {
  const log: SlateLog = {
    n: 1,
    K,
    slate: Int32Array.from(s),
    loggingMarginal: Float64Array.from([mu[0]![s[0]]!, mu[1]![s[1]]!]),
    reward: Float64Array.from([phi[0]![s[0]]!, phi[1]![s[1]]!]),
  };
  return slateEstimates(log, Float64Array.from([piM[0]![s[0]]!, piM[1]![s[1]]!]), ['position-ips', 'pseudo-inverse'], { bootstrap: 0 });
}

describe('slate estimators', () => {
  const piM = marginals(pi);
  const q = Float64Array.from([...piM[0]!, ...piM[1]!]);

  it('with a logging policy that fills slots independently, both are unbiased and the shortcut equals the pseudo-inverse', () => {
    const mu0 = [0.5, 0.3, 0.2];
    const mu1 = [0.2, 0.3, 0.5];
    const mu = (s: [number, number]) => mu0[s[0]]! * mu1[s[1]]!;
    const muM = marginals(mu);
    const gamma = gammaOf(mu);
    let pos = 0;
    let pInv = 0;
    for (const s of slates) {
      const r = oneSlate(s, muM, piM);
      pos += mu(s) * r.estimates['position-ips']!.value;
      pInv += mu(s) * r.estimates['pseudo-inverse']!.value;
      // Σ_j π_j/μ_j − K + 1 is q_πᵀ Γ^† 1_s for a product logging policy.
      const shortcut = piM[0]![s[0]]! / muM[0]![s[0]]! + piM[1]![s[1]]! / muM[1]![s[1]]! - K + 1;
      expect(pseudoInverseWeight(q, gamma, [s[0], m + s[1]])).toBeCloseTo(shortcut, 9);
    }
    expect(pos).toBeCloseTo(truth, 12);
    expect(pInv).toBeCloseTo(truth, 12);
  });

  it('with distinct-item slates logged uniformly (not a product), the general pseudo-inverse weight stays unbiased', () => {
    const distinct = slates.filter((s) => s[0] !== s[1]);
    const mu = (s: [number, number]) => (s[0] !== s[1] ? 1 / distinct.length : 0);
    const gamma = gammaOf(mu);
    let v = 0;
    for (const s of distinct) v += mu(s) * reward(s) * pseudoInverseWeight(q, gamma, [s[0], m + s[1]]);
    expect(v).toBeCloseTo(truth, 9);
    // The independent-slots shortcut is not the pseudo-inverse here: it would be biased.
    const muM = marginals(mu);
    let shortcut = 0;
    for (const s of distinct) shortcut += mu(s) * reward(s) * (piM[0]![s[0]]! / muM[0]![s[0]]! + piM[1]![s[1]]! / muM[1]![s[1]]! - K + 1);
    expect(Math.abs(shortcut - truth)).toBeGreaterThan(1e-3);
  });

  it('refuses a zero logging probability, naming the slate and slot', () => {
    const log: SlateLog = { n: 1, K: 2, slate: Int32Array.from([0, 1]), loggingMarginal: Float64Array.from([0.5, 0]), reward: Float64Array.from([1, 0]) };
    expect(() => slateEstimates(log, Float64Array.from([0.5, 0.5]))).toThrow(/slate 0 slot 1: logging probability 0/);
  });
});
