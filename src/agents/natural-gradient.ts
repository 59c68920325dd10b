/**
 * The pieces of a trust-region natural-gradient step (TRPO; Schulman et al. 2015) for the softmax
 * slate policy over a step's candidates (SoftmaxPolicy):
 *
 * - `conjugateGradient`: x ≈ F⁻¹ g from products F·v only (F is never built).
 * - `SoftmaxFisher`: F·v for F the Hessian at θ_old of the mean KL(π_old ‖ π_θ) over a batch of
 *   states. For a softmax with logits z_s = f_θ(s, candidates) that Hessian is exactly
 *   (1/N) Σ_s J_sᵀ (diag p_s − p_s p_sᵀ) J_s, J_s = ∂z_s/∂θ; J_s v comes from an exact
 *   forward-mode tangent pass (nn/parameter-tangent.ts, no finite difference), J_sᵀ u from the
 *   network's backward pass.
 * - `SoftmaxTrustRegion`: one policy update — the surrogate's gradient g, the CG direction, the
 *   step scaled to the KL radius δ by β = sqrt(2δ / xᵀ(F + λI)x), and a backtracking line search
 *   that keeps the first step whose measured mean KL ≤ δ and whose surrogate improves (else θ_old).
 *
 * The surrogate is L(θ) = (1/N) Σ_s Σ_{a in slate} π_θ(a|s) / β(a|s) · Â_s, with β the
 * probability the item had when acted (as PPO's ratio); the KL is over the full candidate set.
 */
import type { Mlp } from '../nn/mlp.js';
import { ParameterTangent } from '../nn/parameter-tangent.js';
import { grow } from './neural.js';
import type { PolicyStep, SoftmaxPolicy } from './softmax-policy.js';

export interface CgResult {
  x: Float64Array;
  iterations: number;
  /** ‖g − A x‖ / ‖g‖ at the end (the recurrence's residual). */
  residual: number;
}

/**
 * Conjugate gradient for A x = g with A symmetric positive definite, given only `Av(v, out)`
 * (out = A v). Stops after `iters` iterations or once ‖r‖ ≤ tol·‖g‖.
 */
export function conjugateGradient(Av: (v: Float64Array, out: Float64Array) => void, g: Float64Array, iters: number, tol: number): CgResult {
  const n = g.length;
  const x = new Float64Array(n);
  const r = Float64Array.from(g);
  const p = Float64Array.from(g);
  const ap = new Float64Array(n);
  const gNorm = Math.sqrt(dot(g, g));
  if (gNorm === 0) return { x, iterations: 0, residual: 0 };
  let rr = gNorm * gNorm;
  let it = 0;
  while (it < iters && Math.sqrt(rr) > tol * gNorm) {
    Av(p, ap);
    const pAp = dot(p, ap);
    // Round-off can make a nearly singular direction look non-positive: stop with what we have.
    if (!(pAp > 0)) break;
    const alpha = rr / pAp;
    for (let i = 0; i < n; i++) {
      x[i]! += alpha * p[i]!;
      r[i]! -= alpha * ap[i]!;
    }
    const rrNew = dot(r, r);
    const beta = rrNew / rr;
    for (let i = 0; i < n; i++) p[i] = r[i]! + beta * p[i]!;
    rr = rrNew;
    it++;
  }
  return { x, iterations: it, residual: Math.sqrt(rr) / gNorm };
}

export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Fisher-vector products of the mean KL(π_old ‖ π_θ) over N states, each state's logits being
 * rows offsets[s] … offsets[s + 1] of one network's output (see the module comment).
 */
export class SoftmaxFisher {
  private readonly tangent: ParameterTangent;
  /** π_old and log π_old per row, at the linearisation point. */
  private p: Float64Array = new Float64Array(0);
  private logp: Float64Array = new Float64Array(0);
  private offsets: Int32Array = new Int32Array(1);
  private v32: Float32Array;
  private u32: Float32Array = new Float32Array(0);

  constructor(readonly net: Mlp) {
    this.tangent = new ParameterTangent(net);
    this.v32 = new Float32Array(net.params.length);
  }

  get states(): number {
    return this.offsets.length - 1;
  }

  get rows(): number {
    return this.offsets[this.offsets.length - 1]!;
  }

  /** π_old per row (valid until the next `linearise`). */
  get probabilities(): Float64Array {
    return this.p;
  }

  get logProbabilities(): Float64Array {
    return this.logp;
  }

  /**
   * Linearise at the network's current parameters for input rows x grouped into states by
   * `offsets` (length N + 1). Leaves the network's forward cached for `product` and for one
   * backward of the caller's own (same batch, same parameters).
   */
  linearise(x: Float32Array, offsets: Int32Array): void {
    this.offsets = offsets;
    const rows = this.rows;
    if (this.p.length < rows) {
      this.p = new Float64Array(rows);
      this.logp = new Float64Array(rows);
    }
    this.u32 = grow(this.u32, rows);
    logSoftmaxGroups(this.net.forward(x, rows), offsets, this.logp);
    for (let r = 0; r < rows; r++) this.p[r] = Math.exp(this.logp[r]!);
    this.tangent.linearise(x, rows);
  }

  /** out = F v + damping · v. */
  product(v: Float64Array, out: Float64Array, damping = 0): void {
    const { net, p, offsets, u32 } = this;
    const v32 = this.v32;
    for (let i = 0; i < v.length; i++) v32[i] = v[i]!;
    const jv = this.tangent.apply(v32);
    const inv = 1 / Math.max(1, this.states);
    // u_s = (diag p − p pᵀ) J_s v / N, per state: p_q (Jv_q − Σ_r p_r Jv_r) / N.
    for (let s = 0; s + 1 < offsets.length; s++) {
      const a = offsets[s]!;
      const b = offsets[s + 1]!;
      let m = 0;
      for (let r = a; r < b; r++) m += p[r]! * jv[r]!;
      for (let r = a; r < b; r++) u32[r] = inv * p[r]! * (jv[r]! - m);
    }
    net.zeroGrad();
    net.backward(u32.subarray(0, this.rows));
    const g = net.grads;
    for (let i = 0; i < out.length; i++) out[i] = g[i]! + damping * v[i]!;
  }
}

/** log-softmax of each group of `z` (rows offsets[s] … offsets[s + 1]) into out, in float64. */
export function logSoftmaxGroups(z: Float32Array, offsets: Int32Array, out: Float64Array): void {
  for (let s = 0; s + 1 < offsets.length; s++) {
    const a = offsets[s]!;
    const b = offsets[s + 1]!;
    let mx = -Infinity;
    for (let r = a; r < b; r++) mx = Math.max(mx, z[r]!);
    let sum = 0;
    for (let r = a; r < b; r++) sum += Math.exp(z[r]! - mx);
    const lse = mx + Math.log(sum);
    for (let r = a; r < b; r++) out[r] = z[r]! - lse;
  }
}

export interface TrustRegionOptions {
  /** KL radius δ: the largest mean KL(π_old ‖ π_new) a step may take. */
  maxKl: number;
  /** λ added to F (F + λI) in CG and in the step scale. */
  damping: number;
  cgIters: number;
  /** CG stops once ‖r‖ ≤ cgTol·‖g‖. */
  cgTol: number;
  /** Line-search tries (the full step is the first). */
  backtrackIters: number;
  /** Step shrink factor per try. */
  backtrackFactor: number;
}

export interface TrustRegionStats {
  accepted: boolean;
  /** Measured mean KL(π_old ‖ π_new) of the kept step (0 when none was kept). */
  kl: number;
  surrogateBefore: number;
  /** Surrogate at the kept parameters (= surrogateBefore when none was kept). */
  surrogateAfter: number;
  /** g · Δ for the full step (the linear model's predicted gain). */
  expectedImprovement: number;
  /** Fraction of the full step kept (0 when rejected). */
  stepFraction: number;
  cgIterations: number;
  cgResidual: number;
}

/** One TRPO update of a SoftmaxPolicy's network on a batch of acted steps with their advantages. */
export class SoftmaxTrustRegion {
  readonly fisher: SoftmaxFisher;
  private x: Float32Array = new Float32Array(0);
  private dz: Float32Array = new Float32Array(0);
  private logq: Float64Array = new Float64Array(0);
  private readonly old: Float32Array;

  constructor(readonly policy: SoftmaxPolicy) {
    this.fisher = new SoftmaxFisher(policy.net);
    this.old = new Float32Array(policy.net.params.length);
  }

  /**
   * Feature rows of every step's candidates (one block per step) and the blocks' offsets; also
   * linearises the Fisher there. Exposed for tests that measure the policy on the same batch.
   */
  prepare(steps: PolicyStep[]): Int32Array {
    const offsets = new Int32Array(steps.length + 1);
    for (let t = 0; t < steps.length; t++) offsets[t + 1] = offsets[t]! + steps[t]!.cands.length;
    const rows = offsets[steps.length]!;
    const { pairs } = this.policy;
    this.x = grow(this.x, rows * pairs.dim);
    for (let t = 0; t < steps.length; t++) pairs.fill(steps[t]!.obs, steps[t]!.cands, this.x, offsets[t]!);
    this.fisher.linearise(this.x, offsets);
    return offsets;
  }

  /** The surrogate's gradient at the linearisation point (after `prepare`), and its value. */
  gradient(steps: PolicyStep[], adv: Float32Array, offsets: Int32Array): { g: Float64Array; surrogate: number } {
    const { net } = this.policy;
    const p = this.fisher.probabilities;
    const rows = offsets[steps.length]!;
    this.dz = grow(this.dz, rows);
    const dz = this.dz;
    const inv = 1 / Math.max(1, steps.length);
    let surrogate = 0;
    for (let t = 0; t < steps.length; t++) {
      const st = steps[t]!;
      const o = offsets[t]!;
      // ∂/∂z_q of Σ_a c_a with c_a = (π_a / β_a) Â: Σ_a c_a (1[q = a] − π_q).
      let csum = 0;
      for (let j = 0; j < st.actions.length; j++) {
        const c = (p[o + st.actions[j]!]! / Math.max(st.behaviour[j]!, 1e-8)) * adv[t]!;
        csum += c;
      }
      surrogate += inv * csum;
      for (let r = o; r < offsets[t + 1]!; r++) dz[r] = -inv * p[r]! * csum;
      for (let j = 0; j < st.actions.length; j++) {
        dz[o + st.actions[j]!]! += (inv * p[o + st.actions[j]!]! / Math.max(st.behaviour[j]!, 1e-8)) * adv[t]!;
      }
    }
    // backward takes the loss gradient; the net's forward from `prepare` is still cached.
    net.zeroGrad();
    net.backward(dz.subarray(0, rows));
    return { g: Float64Array.from(net.grads), surrogate };
  }

  /** Mean KL(π_old ‖ π_θ) and the surrogate at the network's current parameters. */
  measure(steps: PolicyStep[], adv: Float32Array, offsets: Int32Array): { kl: number; surrogate: number } {
    const rows = offsets[steps.length]!;
    if (this.logq.length < rows) this.logq = new Float64Array(rows);
    const logq = this.logq;
    logSoftmaxGroups(this.policy.net.forward(this.x, rows), offsets, logq);
    const p = this.fisher.probabilities;
    const logp = this.fisher.logProbabilities;
    const inv = 1 / Math.max(1, steps.length);
    let kl = 0;
    let surrogate = 0;
    for (let t = 0; t < steps.length; t++) {
      const st = steps[t]!;
      const o = offsets[t]!;
      for (let r = o; r < offsets[t + 1]!; r++) if (p[r]! > 0) kl += p[r]! * (logp[r]! - logq[r]!);
      for (let j = 0; j < st.actions.length; j++) surrogate += (Math.exp(logq[o + st.actions[j]!]!) / Math.max(st.behaviour[j]!, 1e-8)) * adv[t]!;
    }
    return { kl: kl * inv, surrogate: surrogate * inv };
  }

  step(steps: PolicyStep[], adv: Float32Array, o: TrustRegionOptions): TrustRegionStats {
    const params = this.policy.net.params;
    const offsets = this.prepare(steps);
    const { g, surrogate: before } = this.gradient(steps, adv, offsets);
    const fv = (v: Float64Array, out: Float64Array): void => this.fisher.product(v, out, o.damping);
    const cg = conjugateGradient(fv, g, o.cgIters, o.cgTol);
    const rejected: TrustRegionStats = {
      accepted: false,
      kl: 0,
      surrogateBefore: before,
      surrogateAfter: before,
      expectedImprovement: 0,
      stepFraction: 0,
      cgIterations: cg.iterations,
      cgResidual: cg.residual,
    };
    const fx = new Float64Array(g.length);
    fv(cg.x, fx);
    const xFx = dot(cg.x, fx);
    if (!(xFx > 0)) return rejected;
    const scale = Math.sqrt((2 * o.maxKl) / xFx);
    const full = cg.x;
    for (let i = 0; i < full.length; i++) full[i]! *= scale;
    rejected.expectedImprovement = dot(g, full);
    this.old.set(params);
    let frac = 1;
    for (let k = 0; k < o.backtrackIters; k++, frac *= o.backtrackFactor) {
      for (let i = 0; i < params.length; i++) params[i] = this.old[i]! + frac * full[i]!;
      const m = this.measure(steps, adv, offsets);
      if (m.kl <= o.maxKl && m.surrogate > before) {
        return { ...rejected, accepted: true, kl: m.kl, surrogateAfter: m.surrogate, stepFraction: frac };
      }
    }
    params.set(this.old);
    return rejected;
  }
}
