/**
 * Adam (Kingma & Ba 2015) over a Float64Array of parameters with the gradient accumulated in a
 * matching array, for the team's small learned networks (the QMIX mixer, the comm messages).
 * src/nn/adam.ts is Float32 and kernel-backed for the MLPs; these networks are tiny and exact
 * double-precision gradients keep the finite-difference checks tight.
 */
export class Adam64 {
  private readonly mom: Float64Array;
  private readonly vel: Float64Array;
  private t = 0;

  constructor(
    readonly params: Float64Array,
    readonly grads: Float64Array,
    public lr: number,
    /** Largest L2 norm of one step's gradient (rare huge TD errors would otherwise move the moments far). */
    readonly maxGradNorm = 5,
  ) {
    this.mom = new Float64Array(params.length);
    this.vel = new Float64Array(params.length);
  }

  /** One step on the accumulated gradients (clipped to maxGradNorm), then clears them. */
  step(): void {
    const g = this.grads;
    let nn = 0;
    for (let j = 0; j < g.length; j++) nn += g[j]! * g[j]!;
    const norm = Math.sqrt(nn);
    const f = norm > this.maxGradNorm ? this.maxGradNorm / norm : 1;
    this.t++;
    const b1 = 0.9;
    const b2 = 0.999;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    for (let j = 0; j < g.length; j++) {
      const gj = g[j]! * f;
      this.mom[j] = b1 * this.mom[j]! + (1 - b1) * gj;
      this.vel[j] = b2 * this.vel[j]! + (1 - b2) * gj * gj;
      this.params[j]! -= (this.lr * (this.mom[j]! / c1)) / (Math.sqrt(this.vel[j]! / c2) + 1e-8);
      g[j] = 0;
    }
  }

  /** Moments and step count, for the saved agent. */
  toJSON(): { t: number; m: Float64Array; v: Float64Array } {
    return { t: this.t, m: this.mom, v: this.vel };
  }

  load(s: { t: number; m: Float64Array; v: Float64Array }): void {
    this.t = s.t;
    this.mom.set(s.m);
    this.vel.set(s.v);
  }
}
