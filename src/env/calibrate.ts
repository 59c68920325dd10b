/**
 * Fitting the simulator's hidden user model: a biased matrix factorisation of explicit ratings
 * r_ui ≈ μ + b_u + b_i + p_u·q_i, solved by alternating ridge regressions (ALS). Fitted on the
 * FULL ratings so that the hidden preferences hold information the agents (trained on P1's train
 * split) have not seen.
 */
import type { Dataset } from '../data/dataset.js';
import { cholesky, choleskySolve } from '../util/linalg.js';
import { Rng } from '../util/rng.js';

export interface ExplicitMfOptions {
  dim: number;
  iterations: number;
  /** Ridge on factors and biases. */
  reg: number;
  seed: number;
}

export interface ExplicitMf {
  dim: number;
  mu: number;
  userBias: Float32Array;
  itemBias: Float32Array;
  /** nUsers × dim and nItems × dim, row-major. */
  users: Float32Array;
  items: Float32Array;
  /** Root-mean-square error on the fitted ratings (a sanity figure, not a test result). */
  trainRmse: number;
}

export function fitExplicitMf(data: Dataset, o: ExplicitMfOptions): ExplicitMf {
  const d = o.dim;
  const D = d + 1; // factors + bias
  const nU = data.nUsers;
  const nI = data.nItems;
  const rng = new Rng(o.seed);
  const vals = data.interactions.value;
  let mu = 0;
  for (let k = 0; k < vals.length; k++) mu += vals[k]!;
  mu /= Math.max(1, vals.length);
  const P = new Float32Array(nU * d);
  const Q = new Float32Array(nI * d);
  const bu = new Float32Array(nU);
  const bi = new Float32Array(nI);
  for (let k = 0; k < Q.length; k++) Q[k] = rng.normal() * 0.1;
  for (let k = 0; k < P.length; k++) P[k] = rng.normal() * 0.1;
  const A = new Float64Array(D * D);
  const b = new Float64Array(D);
  const x = new Float64Array(D);
  // Solve rows of (F, fb) given the other side (G, gb): target r − μ − gb_j = [F_r, fb_r]·[G_j, 1].
  const side = (F: Float32Array, fb: Float32Array, G: Float32Array, gb: Float32Array, csr: { indptr: Int32Array; indices: Int32Array; values: Float32Array }, nRows: number): void => {
    for (let r = 0; r < nRows; r++) {
      A.fill(0);
      b.fill(0);
      for (let e = csr.indptr[r]!; e < csr.indptr[r + 1]!; e++) {
        const j = csr.indices[e]!;
        const y = csr.values[e]! - mu - gb[j]!;
        for (let a = 0; a < D; a++) x[a] = a < d ? G[j * d + a]! : 1;
        for (let a = 0; a < D; a++) {
          b[a] += y * x[a]!;
          for (let c = 0; c < D; c++) A[a * D + c] += x[a]! * x[c]!;
        }
      }
      for (let a = 0; a < D; a++) A[a * D + a] += o.reg;
      cholesky(A, D);
      choleskySolve(A, D, b);
      for (let a = 0; a < d; a++) F[r * d + a] = b[a]!;
      fb[r] = b[d]!;
    }
  };
  const byUser = data.byUser();
  const byItem = data.byItem();
  for (let it = 0; it < o.iterations; it++) {
    side(P, bu, Q, bi, byUser, nU);
    side(Q, bi, P, bu, byItem, nI);
  }
  let se = 0;
  const us = data.interactions.user;
  const is = data.interactions.item;
  for (let k = 0; k < vals.length; k++) {
    const u = us[k]!;
    const i = is[k]!;
    let p = mu + bu[u]! + bi[i]!;
    for (let a = 0; a < d; a++) p += P[u * d + a]! * Q[i * d + a]!;
    se += (p - vals[k]!) ** 2;
  }
  return { dim: d, mu, userBias: bu, itemBias: bi, users: P, items: Q, trainRmse: Math.sqrt(se / Math.max(1, vals.length)) };
}

/** Ridge regression y ≈ X·w (+ intercept) for small feature counts; returns predictions for every row. */
export function ridgePredict(X: Float32Array, nRows: number, dim: number, y: Float64Array, weights: Float64Array, reg: number): Float64Array {
  const D = dim + 1;
  const A = new Float64Array(D * D);
  const b = new Float64Array(D);
  const row = new Float64Array(D);
  for (let r = 0; r < nRows; r++) {
    const w = weights[r]!;
    if (w === 0) continue;
    for (let a = 0; a < dim; a++) row[a] = X[r * dim + a]!;
    row[dim] = 1;
    for (let a = 0; a < D; a++) {
      b[a] += w * y[r]! * row[a]!;
      for (let c = 0; c < D; c++) A[a * D + c] += w * row[a]! * row[c]!;
    }
  }
  for (let a = 0; a < dim; a++) A[a * D + a] += reg;
  A[dim * D + dim] += 1e-6;
  cholesky(A, D);
  choleskySolve(A, D, b);
  const out = new Float64Array(nRows);
  for (let r = 0; r < nRows; r++) {
    let s = b[dim]!;
    for (let a = 0; a < dim; a++) s += X[r * dim + a]! * b[a]!;
    out[r] = s;
  }
  return out;
}
