/**
 * QMIX's mixing network (Rashid et al. 2018): hypernetworks of the global state s produce the
 * weights of a network with one ELU hidden layer, Q_mix(q, s) = Σ_h w2_h(s)·ELU(Σ_k W1_hk(s)·q_k +
 * b1_h(s)) with W1 = |·| ≥ 0 and w2 = |·| ≥ 0, plus a state value V(s) from a two-layer
 * hypernetwork. Q_mix is monotone in every q_k (non-negative weights, increasing activation), so
 * each agent's greedy choice agrees with the team's. For a fixed state it is also convex in q (ELU
 * is convex and the weights are non-negative): it represents super-additive team values (a joint
 * threshold, q_1 + q_2 − c clipped at 0), not min-like ones unless the agents' own values bend.
 */
import type { Rng } from '../util/rng.js';
import { Adam64 } from './adam64.js';

const elu = (z: number): number => (z > 0 ? z : Math.expm1(z));
const eluGrad = (z: number): number => (z > 0 ? 1 : Math.exp(z));

/**
 * The QMIX mixing network for m agents over a ds-dimensional global state, with H hidden ELU units.
 *
 * Hypernetworks (each linear in s, as in Rashid et al.): W1(s) = |A1·s + a1| (H × m),
 * b1(s) = B1·s + c1 (H), w2(s) = |A2·s + a2| (H); the state value V(s) = v0 + Σ_h vo_h·ReLU(Vh·s + vh)_h.
 * For the agents' values q of one item: Q_mix(q, s) = Σ_h w2_h·ELU(Σ_k W1_hk·q_k + b1_h).
 *
 * Use: `setState(s)` once per state, then `value`/`forward` per item; `accumulateItem` and
 * `accumulateBias` add the gradient of a loss (given dL/dQ_mix and dL/dV) to `grads`, and `step()`
 * applies it with Adam. All parameters live in one flat `params` array (distributed learners and
 * the saved agent treat it as one vector).
 */
export class QmixNetwork {
  readonly params: Float64Array;
  readonly grads: Float64Array;
  private readonly opt: Adam64;
  // Offsets of each block in params.
  private readonly oA1: number;
  private readonly oa1: number;
  private readonly oB1: number;
  private readonly oc1: number;
  private readonly oA2: number;
  private readonly oa2: number;
  private readonly oVh: number;
  private readonly ovh: number;
  private readonly ovo: number;
  private readonly ov0: number;
  // The current state and its hypernetwork outputs.
  private readonly sBuf: Float64Array;
  private readonly raw1: Float64Array;
  readonly W1: Float64Array;
  readonly b1: Float64Array;
  private readonly raw2: Float64Array;
  readonly w2: Float64Array;
  private readonly vz: Float64Array;
  /** V(s) of the current state. */
  V = 0;
  private readonly z: Float64Array;

  constructor(
    readonly m: number,
    readonly ds: number,
    readonly hidden: number,
    lr: number,
    rng: Rng,
    /** Largest L2 norm of one step's gradient (rare huge TD errors would otherwise move Adam's moments far). */
    readonly maxGradNorm = 5,
  ) {
    const H = hidden;
    let o = 0;
    const take = (n: number): number => ((o += n), o - n);
    this.oA1 = take(H * m * ds);
    this.oa1 = take(H * m);
    this.oB1 = take(H * ds);
    this.oc1 = take(H);
    this.oA2 = take(H * ds);
    this.oa2 = take(H);
    this.oVh = take(H * ds);
    this.ovh = take(H);
    this.ovo = take(H);
    this.ov0 = take(1);
    this.params = new Float64Array(o);
    this.grads = new Float64Array(o);
    this.opt = new Adam64(this.params, this.grads, lr, maxGradNorm);
    const p = this.params;
    const sd = 0.1 / Math.sqrt(Math.max(1, ds));
    for (let j = 0; j < H * m * ds; j++) p[this.oA1 + j] = sd * rng.normal();
    for (let j = 0; j < H * ds; j++) p[this.oB1 + j] = sd * rng.normal();
    for (let j = 0; j < H * ds; j++) p[this.oA2 + j] = sd * rng.normal();
    for (let j = 0; j < H * ds; j++) p[this.oVh + j] = sd * rng.normal();
    // Start near VDN: every first-layer weight ≈ 1 and output weights 1/H, so an untrained mixer
    // is ≈ Σ_k q_k where the hidden units are in their linear range; the hidden biases are spread
    // so that the units differ (identical units would get identical gradients forever).
    for (let j = 0; j < H * m; j++) p[this.oa1 + j] = 1;
    for (let h = 0; h < H; h++) p[this.oc1 + h] = 0.5 * rng.normal();
    for (let h = 0; h < H; h++) p[this.oa2 + h] = 1 / H;
    for (let h = 0; h < H; h++) p[this.ovh + h] = 0.1;
    this.sBuf = new Float64Array(ds);
    this.raw1 = new Float64Array(H * m);
    this.W1 = new Float64Array(H * m);
    this.b1 = new Float64Array(H);
    this.raw2 = new Float64Array(H);
    this.w2 = new Float64Array(H);
    this.vz = new Float64Array(H);
    this.z = new Float64Array(H);
  }

  /** Computes the mixing weights, biases and V(s) of state s (used by every later call). */
  setState(s: ArrayLike<number>): void {
    const { m, ds, hidden: H, params: p } = this;
    for (let j = 0; j < ds; j++) this.sBuf[j] = s[j]!;
    const sv = this.sBuf;
    const lin = (off: number, row: number): number => {
      let t = 0;
      const o = off + row * ds;
      for (let j = 0; j < ds; j++) t += p[o + j]! * sv[j]!;
      return t;
    };
    for (let hk = 0; hk < H * m; hk++) {
      this.raw1[hk] = p[this.oa1 + hk]! + lin(this.oA1, hk);
      this.W1[hk] = Math.abs(this.raw1[hk]!);
    }
    let V = p[this.ov0]!;
    for (let h = 0; h < H; h++) {
      this.b1[h] = p[this.oc1 + h]! + lin(this.oB1, h);
      this.raw2[h] = p[this.oa2 + h]! + lin(this.oA2, h);
      this.w2[h] = Math.abs(this.raw2[h]!);
      this.vz[h] = p[this.ovh + h]! + lin(this.oVh, h);
      V += p[this.ovo + h]! * Math.max(0, this.vz[h]!);
    }
    this.V = V;
  }

  /** Q_mix of the agents' values q[off..off+m) in the current state; dQ_mix/dq_k into `dq` when given. */
  forward(q: ArrayLike<number>, off = 0, dq?: Float64Array): number {
    const { m, hidden: H } = this;
    let out = 0;
    if (dq) dq.fill(0, 0, m);
    for (let h = 0; h < H; h++) {
      let z = this.b1[h]!;
      for (let k = 0; k < m; k++) z += this.W1[h * m + k]! * q[off + k]!;
      this.z[h] = z;
      out += this.w2[h]! * elu(z);
      if (dq) {
        const g = this.w2[h]! * eluGrad(z);
        for (let k = 0; k < m; k++) dq[k]! += g * this.W1[h * m + k]!;
      }
    }
    return out;
  }

  /** Q_mix with agent k's value replaced by 0 for every k not in `mask` (bit k set: agent k kept). */
  masked(q: ArrayLike<number>, off: number, mask: number): number {
    const { m, hidden: H } = this;
    let out = 0;
    for (let h = 0; h < H; h++) {
      let z = this.b1[h]!;
      for (let k = 0; k < m; k++) if (mask & (1 << k)) z += this.W1[h * m + k]! * q[off + k]!;
      out += this.w2[h]! * elu(z);
    }
    return out;
  }

  /** The mixer's slope for each agent where its hidden units are linear: Σ_h w2_h·W1_hk (into out). */
  slopes(out: Float64Array): void {
    const { m, hidden: H } = this;
    out.fill(0, 0, m);
    for (let h = 0; h < H; h++) for (let k = 0; k < m; k++) out[k]! += this.w2[h]! * this.W1[h * m + k]!;
  }

  /** grads += dL/dparams of Q_mix(q) in the current state, given dOut = dL/dQ_mix. */
  accumulateItem(q: ArrayLike<number>, off: number, dOut: number): void {
    const { m, ds, hidden: H, grads: g } = this;
    const sv = this.sBuf;
    const addRow = (o: number, row: number, f: number): void => {
      const b = o + row * ds;
      for (let j = 0; j < ds; j++) g[b + j]! += f * sv[j]!;
    };
    for (let h = 0; h < H; h++) {
      let z = this.b1[h]!;
      for (let k = 0; k < m; k++) z += this.W1[h * m + k]! * q[off + k]!;
      // Output weights w2 = |raw2|: d|x|/dx = sign(x) (+1 at 0).
      const dRaw2 = dOut * elu(z) * (this.raw2[h]! >= 0 ? 1 : -1);
      g[this.oa2 + h]! += dRaw2;
      addRow(this.oA2, h, dRaw2);
      const dz = dOut * this.w2[h]! * eluGrad(z);
      g[this.oc1 + h]! += dz;
      addRow(this.oB1, h, dz);
      for (let k = 0; k < m; k++) {
        const hk = h * m + k;
        const dRaw1 = dz * q[off + k]! * (this.raw1[hk]! >= 0 ? 1 : -1);
        g[this.oa1 + hk]! += dRaw1;
        addRow(this.oA1, hk, dRaw1);
      }
    }
  }

  /** grads += dL/dparams of V(s) in the current state, given dV = dL/dV. */
  accumulateBias(dV: number): void {
    const { ds, hidden: H, grads: g, params: p } = this;
    g[this.ov0]! += dV;
    for (let h = 0; h < H; h++) {
      const vz = this.vz[h]!;
      g[this.ovo + h]! += dV * Math.max(0, vz);
      if (vz <= 0) continue;
      const d = dV * p[this.ovo + h]!;
      g[this.ovh + h]! += d;
      const b = this.oVh + h * ds;
      for (let j = 0; j < ds; j++) g[b + j]! += d * this.sBuf[j]!;
    }
  }

  /** One Adam step on the accumulated gradients (clipped to maxGradNorm), then clears them. */
  step(): void {
    this.opt.step();
  }

  /** Adam's moments and step count, for the saved agent. */
  optimiserState(): { t: number; m: Float64Array; v: Float64Array } {
    return this.opt.toJSON();
  }

  loadOptimiserState(s: { t: number; m: Float64Array; v: Float64Array }): void {
    this.opt.load(s);
  }
}
