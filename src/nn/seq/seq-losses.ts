/**
 * Losses of next-item training over a logits matrix of P rows × C columns. Row p scores one
 * position's candidates; `target[p]` (or column 0 when `target` is null) is its true next item and
 * the other columns are negatives. `skip[p]` ≥ 0 drops that column from row p (a sampled negative
 * that is in fact the row's positive, an "accidental hit"; −1: none). Each writes dLoss/dLogits into
 * `grad` (P × C) and returns the loss averaged over rows.
 *
 * - softmax cross-entropy: sampled softmax over [positive, negatives], or the full softmax when
 *   the columns are the whole catalogue;
 * - binary cross-entropy with negatives (SASRec): −log σ(s⁺) − Σ log(1 − σ(s⁻));
 * - BPR-max (Hidasi & Karatzoglou 2018): −log Σ_j w_j σ(s⁺ − s_j) + λ Σ_j w_j s_j², w = softmax of
 *   the negatives' scores.
 */

export type SeqLossKind = 'softmax' | 'bce' | 'bpr-max';


export function softmaxCrossEntropy(
  logits: Float32Array,
  P: number,
  C: number,
  target: Int32Array | null,
  skip: Int32Array | null,
  grad: Float32Array,
): number {
  let loss = 0;
  const inv = 1 / P;
  for (let p = 0; p < P; p++) {
    const o = p * C;
    const tc = target ? target[p]! : 0;
    const sc = skip ? skip[p]! : -1;
    let mx = -Infinity;
    for (let c = 0; c < C; c++) if (c !== sc && logits[o + c]! > mx) mx = logits[o + c]!;
    let sum = 0;
    for (let c = 0; c < C; c++) {
      const e = Math.exp(logits[o + c]! - mx);
      grad[o + c] = e;
      sum += e;
    }
    if (sc >= 0) {
      sum -= grad[o + sc]!;
      grad[o + sc] = 0;
    }
    const lse = mx + Math.log(sum);
    loss += lse - logits[o + tc]!;
    const is = inv / sum;
    for (let c = 0; c < C; c++) grad[o + c]! *= is;
    grad[o + tc]! -= inv;
  }
  return loss * inv;
}

/** log σ(x), stable for large |x|. */
function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

export function binaryCrossEntropy(logits: Float32Array, P: number, C: number, skip: Int32Array | null, grad: Float32Array): number {
  let loss = 0;
  const inv = 1 / P;
  for (let p = 0; p < P; p++) {
    const o = p * C;
    const s0 = logits[o]!;
    const sc = skip ? skip[p]! : -1;
    loss -= logSigmoid(s0);
    grad[o] = (sigmoid(s0) - 1) * inv;
    for (let c = 1; c < C; c++) {
      if (c === sc) {
        grad[o + c] = 0;
        continue;
      }
      const s = logits[o + c]!;
      loss -= logSigmoid(-s);
      grad[o + c] = sigmoid(s) * inv;
    }
  }
  return loss * inv;
}

export function bprMax(logits: Float32Array, P: number, C: number, skip: Int32Array | null, reg: number, grad: Float32Array): number {
  let loss = 0;
  const inv = 1 / P;
  for (let p = 0; p < P; p++) {
    const o = p * C;
    const s0 = logits[o]!;
    const sc = skip ? skip[p]! : -1;
    // w = softmax over the kept negatives (held in grad until the row's gradient is written).
    let mx = -Infinity;
    for (let c = 1; c < C; c++) if (c !== sc && logits[o + c]! > mx) mx = logits[o + c]!;
    if (mx === -Infinity) {
      grad.fill(0, o, o + C);
      continue;
    }
    let z = 0;
    for (let c = 1; c < C; c++) {
      const w = c === sc ? 0 : Math.exp(logits[o + c]! - mx);
      grad[o + c] = w;
      z += w;
    }
    let A = 0;
    let Q = 0;
    for (let c = 1; c < C; c++) {
      const w = grad[o + c]! / z;
      grad[o + c] = w;
      const s = logits[o + c]!;
      A += w * sigmoid(s0 - s);
      Q += w * s * s;
    }
    loss += -Math.log(A + 1e-24) + reg * Q;
    let d0 = 0;
    for (let c = 1; c < C; c++) {
      const w = grad[o + c]!;
      if (w === 0) continue;
      const s = logits[o + c]!;
      const a = sigmoid(s0 - s);
      d0 += w * a * (1 - a);
      const dRank = -(w * (a - A) - w * a * (1 - a)) / (A + 1e-24);
      const dReg = reg * (w * (s * s - Q) + 2 * w * s);
      grad[o + c] = (dRank + dReg) * inv;
    }
    grad[o] = (-d0 / (A + 1e-24)) * inv;
  }
  return loss * inv;
}
