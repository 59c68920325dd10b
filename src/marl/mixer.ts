/**
 * Linear value models and the value-decomposition mixers.
 *
 * `LinearValue`: Q(φ) = θᵀφ, trained by normalised least-mean-squares steps (step lr/(1 + |φ|²),
 * so the step is scale-free in the features). Gradients are accumulated (`accumulate`) and
 * applied in `apply`, which lets distributed learners exchange and sum them before applying.
 *
 * VDN (Sunehag et al. 2018): Q_team = Σ_k Q_k (`vdnMix`).
 *
 * Weighted VDN (`StateWeightedMixer`): Q_team = Σ_k w_k(s)·Q_k + b(s) with
 * w_k(s) = clip(|W_k·s + c_k|, wMin, wMax) ≥ 0 from a linear hypernetwork of the global state s
 * (b optional: the team runs without it). Monotone in every agent's Q, but still additive in the
 * agents' values for a given state: no hidden layer. It was called `QmixMixer` before the real one.
 *
 * The real QMIX mixing network is `QmixNetwork` (qmix-network.ts).
 */
export class LinearValue {
  theta: Float64Array;
  readonly grad: Float64Array;
  constructor(
    readonly dim: number,
    public lr: number,
  ) {
    this.theta = new Float64Array(dim);
    this.grad = new Float64Array(dim);
  }

  value(x: Float64Array, off = 0): number {
    let s = 0;
    for (let j = 0; j < this.dim; j++) s += this.theta[j]! * x[off + j]!;
    return s;
  }

  /** Values of n rows (row-major n × dim) into out. */
  values(x: Float64Array, n: number, out: Float64Array): void {
    const d = this.dim;
    for (let r = 0; r < n; r++) out[r] = this.value(x, r * d);
  }

  /** |φ|² of row `off`. */
  sq(x: Float64Array, off: number): number {
    let s = 0;
    for (let j = 0; j < this.dim; j++) s += x[off + j]! * x[off + j]!;
    return s;
  }

  /**
   * grad += lr · err · scale · φ / norm, a normalised LMS step toward reducing err². `norm`
   * defaults to 1 + |φ|²; models summed into one prediction (VDN, weighted VDN, QMIX, comm) pass the joint
   * 1 + Σ_k scale_k²·|φ_k|², so the step is the joint model's gradient and shared directions
   * (two agents seeing the same feature) do not drift against each other. The error is clipped
   * to ±`clip` (a Huber-like step, robust to rare huge targets).
   */
  accumulate(x: Float64Array, off: number, err0: number, scale = 1, norm = 1 + this.sq(x, off), clip = 2): void {
    const d = this.dim;
    const err = err0 > clip ? clip : err0 < -clip ? -clip : err0;
    const f = (this.lr * err * scale) / norm;
    for (let j = 0; j < d; j++) this.grad[j]! += f * x[off + j]!;
  }

  apply(): void {
    for (let j = 0; j < this.dim; j++) {
      this.theta[j]! += this.grad[j]!;
      this.grad[j] = 0;
    }
  }
}

/** VDN: the team value of one item is the plain sum of the agents' values. */
export function vdnMix(q: ArrayLike<number>, m: number, off = 0): number {
  let s = 0;
  for (let k = 0; k < m; k++) s += q[off + k]!;
  return s;
}

/** The weighted-VDN mixer: state-dependent non-negative weights from a linear hypernetwork, no hidden layer. */
export class StateWeightedMixer {
  /** m × ds hypernetwork weights, m offsets (start at 1, so an untrained mixer is VDN) and the bias head. */
  W: Float64Array;
  c: Float64Array;
  v: Float64Array;
  private readonly raw: Float64Array;
  constructor(
    readonly m: number,
    readonly ds: number,
    public lr: number,
    /** Upper bound of every w_k(s): keeps one agent's weight from running away (the collapse seen with unbounded |·|, when this mode was named qmix). */
    readonly wMax = 2,
    /** Lower bound of every w_k(s) (≥ 0): no agent is switched off entirely (a zero weight also stops its learning). */
    readonly wMin = 0,
    /**
     * Learn the state bias b(s). Off in the team: its values are per item, and a bias shared by
     * every item of a state cannot be told apart from the agents' own bias features; its drift was
     * absorbed by the item agent's always-positive features (popularity's weight went negative, so
     * the team favoured unpopular items: return 2.7 against VDN's 5.4; docs/benchmarks.md).
     */
    readonly stateBias = true,
  ) {
    this.W = new Float64Array(m * ds);
    this.c = new Float64Array(m).fill(1);
    this.v = new Float64Array(ds);
    this.raw = new Float64Array(m);
  }

  /** w_k(s) = clip(|W_k·s + c_k|, wMin, wMax) into `w`; returns b(s). */
  weights(s: Float32Array | Float64Array, w: Float64Array): number {
    const { m, ds } = this;
    for (let k = 0; k < m; k++) {
      let z = this.c[k]!;
      for (let j = 0; j < ds; j++) z += this.W[k * ds + j]! * s[j]!;
      this.raw[k] = z;
      w[k] = Math.max(this.wMin, Math.min(Math.abs(z), this.wMax));
    }
    let b = 0;
    for (let j = 0; j < ds; j++) b += this.v[j]! * s[j]!;
    return b;
  }

  /** Q_team = Σ_k w_k q_k + b. */
  static mix(q: ArrayLike<number>, qOff: number, w: Float64Array, m: number, b: number): number {
    let s = b;
    for (let k = 0; k < m; k++) s += w[k]! * q[qOff + k]!;
    return s;
  }

  /**
   * One normalised gradient step on the hypernetwork for TD error `err` of an item whose agent
   * values were q (call `weights(s)` for the same state first).
   */
  step(s: Float32Array | Float64Array, q: ArrayLike<number>, qOff: number, err: number): void {
    const { m, ds } = this;
    let ss = 1;
    for (let j = 0; j < ds; j++) ss += s[j]! * s[j]!;
    let qq = 1;
    for (let k = 0; k < m; k++) qq += q[qOff + k]! * q[qOff + k]!;
    const f = (this.lr * err) / (ss * qq);
    for (let k = 0; k < m; k++) {
      // A clipped weight has zero gradient (the clip is flat there).
      if (Math.abs(this.raw[k]!) >= this.wMax || Math.abs(this.raw[k]!) <= this.wMin) continue;
      const g = f * q[qOff + k]! * (this.raw[k]! >= 0 ? 1 : -1);
      for (let j = 0; j < ds; j++) this.W[k * ds + j]! += g * s[j]!;
      this.c[k]! += g;
    }
    if (!this.stateBias) return;
    const fb = (this.lr * err) / ss;
    for (let j = 0; j < ds; j++) this.v[j]! += fb * s[j]!;
  }
}

/**
 * @deprecated The state-weighted VDN mixer under its old name; the real QMIX mixer is `QmixNetwork`.
 */
export const QmixMixer = StateWeightedMixer;
/** @deprecated See `StateWeightedMixer`. */
export type QmixMixer = StateWeightedMixer;
