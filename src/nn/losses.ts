/** Losses and their gradients; each writes dLoss/dPred into `grad` and returns the mean loss. */

/** Mean squared error over n values (PyTorch's MSELoss, reduction 'mean'). */
export function mseLoss(pred: Float32Array, target: Float32Array, n: number, grad: Float32Array): number {
  let s = 0;
  const f = 2 / n;
  for (let i = 0; i < n; i++) {
    const d = pred[i]! - target[i]!;
    s += d * d;
    grad[i] = f * d;
  }
  return s / n;
}

/** Huber (smooth L1) loss with threshold delta, mean over n; robust TD loss for DQN. */
export function huberLoss(pred: Float32Array, target: Float32Array, n: number, grad: Float32Array, delta = 1): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = pred[i]! - target[i]!;
    const a = Math.abs(d);
    if (a <= delta) {
      s += 0.5 * d * d;
      grad[i] = d / n;
    } else {
      s += delta * (a - 0.5 * delta);
      grad[i] = (d > 0 ? delta : -delta) / n;
    }
  }
  return s / n;
}

/**
 * Softmax over `n` logits starting at `off`, written to out (same offsets). Subtracts the max
 * so large logits cannot overflow. Returns log Σ exp(logits).
 */
export function softmax(logits: Float32Array, off: number, n: number, out: Float32Array): number {
  let mx = -Infinity;
  for (let i = 0; i < n; i++) if (logits[off + i]! > mx) mx = logits[off + i]!;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(logits[off + i]! - mx);
    out[off + i] = e;
    s += e;
  }
  for (let i = 0; i < n; i++) out[off + i]! /= s;
  return mx + Math.log(s);
}
