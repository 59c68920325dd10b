/**
 * Learned messages between the team's agents (the `comm` coordination mode).
 *
 * For one item, agent j sends the message msg_j = M_j·φ_j (d numbers computed from its own
 * features); agent k receives the mean of the others' messages c_k = mean_{j≠k} msg_j and reads it
 * in the light of its own observation: its second-round value is
 *   q_k = θ_kᵀφ_k + (U_kᵀφ_k)·c_k.
 * The read-out is bilinear in the receiver's and the senders' features, so the team value Σ_k q_k
 * holds products of features that different agents see — an interaction no sum of one-agent values
 * (VDN) has. With U = 0 (the start) the agents ignore the messages and the team is VDN. M and U
 * are trained by back-propagating the team TD error through the messages (Adam).
 */
import type { Rng } from '../util/rng.js';
import { Adam64 } from './adam64.js';

export class CommMessages {
  readonly params: Float64Array;
  readonly grads: Float64Array;
  private readonly opt: Adam64;
  /** Offsets of M_k (d × dim_k) and U_k (dim_k × d) in params. */
  private readonly oM: number[] = [];
  private readonly oU: number[] = [];
  private readonly msg: Float64Array;
  private readonly sum: Float64Array;
  private readonly read: Float64Array;

  constructor(
    readonly dims: readonly number[],
    /** Message length d. */
    readonly d: number,
    lr: number,
    rng: Rng,
  ) {
    let o = 0;
    for (const dim of dims) (this.oM.push(o), (o += d * dim));
    for (const dim of dims) (this.oU.push(o), (o += dim * d));
    this.params = new Float64Array(o);
    this.grads = new Float64Array(o);
    // Small random encoders (the messages must differ to be learned from); zero read-outs.
    dims.forEach((dim, k) => {
      const sd = 0.1 / Math.sqrt(Math.max(1, dim));
      for (let j = 0; j < d * dim; j++) this.params[this.oM[k]! + j] = sd * rng.normal();
    });
    this.opt = new Adam64(this.params, this.grads, lr);
    const m = dims.length;
    this.msg = new Float64Array(m * d);
    this.sum = new Float64Array(d);
    this.read = new Float64Array(m * d);
  }

  /** Messages and read-outs of one item: msg (m × d), their sum, and U_kᵀφ_k (m × d). */
  private compute(F: readonly Float64Array[], offs: ArrayLike<number>): void {
    const { d, dims, params: p } = this;
    this.sum.fill(0);
    for (let k = 0; k < dims.length; k++) {
      const dim = dims[k]!;
      const x = F[k]!;
      const xo = offs[k]!;
      for (let l = 0; l < d; l++) {
        let a = 0;
        const mo = this.oM[k]! + l * dim;
        for (let i = 0; i < dim; i++) a += p[mo + i]! * x[xo + i]!;
        this.msg[k * d + l] = a;
        this.sum[l]! += a;
        let b = 0;
        const uo = this.oU[k]!;
        for (let i = 0; i < dim; i++) b += p[uo + i * d + l]! * x[xo + i]!;
        this.read[k * d + l] = b;
      }
    }
  }

  /** The message part of each agent's value for one item: out[outOff + k] = (U_kᵀφ_k)·c_k. */
  messageValues(F: readonly Float64Array[], offs: ArrayLike<number>, out: Float64Array, outOff: number): void {
    const { d, dims } = this;
    const m = dims.length;
    this.compute(F, offs);
    for (let k = 0; k < m; k++) {
      let v = 0;
      if (m > 1) for (let l = 0; l < d; l++) v += this.read[k * d + l]! * ((this.sum[l]! - this.msg[k * d + l]!) / (m - 1));
      out[outOff + k] = v;
    }
  }

  /** grads += dL/dparams for one item, given dOut[k] = dL/d(message part of agent k's value). */
  accumulate(F: readonly Float64Array[], offs: ArrayLike<number>, dOut: ArrayLike<number>): void {
    const { d, dims, grads: g } = this;
    const m = dims.length;
    if (m < 2) return;
    this.compute(F, offs);
    // dL/dc_k = dOut_k·(U_kᵀφ_k); a sender's message reaches every other agent with weight 1/(m − 1).
    const dSum = new Float64Array(d);
    for (let k = 0; k < m; k++) for (let l = 0; l < d; l++) dSum[l]! += (dOut[k]! * this.read[k * d + l]!) / (m - 1);
    for (let k = 0; k < m; k++) {
      const dim = dims[k]!;
      const x = F[k]!;
      const xo = offs[k]!;
      for (let l = 0; l < d; l++) {
        const c = (this.sum[l]! - this.msg[k * d + l]!) / (m - 1);
        // U_k: d(read_k·c_k)/dU_k[i, l] = φ_k[i]·c_k[l].
        const uo = this.oU[k]!;
        for (let i = 0; i < dim; i++) g[uo + i * d + l]! += dOut[k]! * x[xo + i]! * c;
        // M_k: its message reaches the others: dL/dmsg_k = Σ_{j≠k} dL/dc_j / (m − 1).
        const dMsg = dSum[l]! - (dOut[k]! * this.read[k * d + l]!) / (m - 1);
        const mo = this.oM[k]! + l * dim;
        for (let i = 0; i < dim; i++) g[mo + i]! += dMsg * x[xo + i]!;
      }
    }
  }

  /** One Adam step on the accumulated gradients, then clears them. */
  step(): void {
    this.opt.step();
  }

  optimiserState(): { t: number; m: Float64Array; v: Float64Array } {
    return this.opt.toJSON();
  }

  loadOptimiserState(s: { t: number; m: Float64Array; v: Float64Array }): void {
    this.opt.load(s);
  }
}
