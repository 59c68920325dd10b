/**
 * Inverted dropout (Srivastava et al. 2014): in training each value is kept with probability
 * 1 − p and scaled by 1/(1 − p), so inference is the identity. The keep mask is drawn from the
 * seeded Rng the layer was given, so a seed reproduces a training run exactly. Each 32-bit draw
 * decides four values, one byte each (a value is dropped when its byte is below round(256·p)):
 * drawing one number per value took a quarter of SASRec's training time, and p is then exact to
 * 1/256 (0.2 drops 51/256 = 19.9 %).
 */
import { ConfigError } from '../../errors.js';
import type { Rng } from '../../util/rng.js';
import { grow } from './params.js';

export class Dropout {
  private mask: Float32Array = new Float32Array(0);
  private y: Float32Array = new Float32Array(0);
  private dx: Float32Array = new Float32Array(0);
  private n = 0;
  private active = false;

  constructor(
    readonly p: number,
    private readonly rng: Rng,
  ) {
    if (!(p >= 0 && p < 1)) throw new ConfigError(`dropout must be in [0, 1), got ${p}`, 'dropout');
  }

  /** y = x ⊙ mask in training (train = true and p > 0); x itself otherwise. */
  forward(x: Float32Array, n: number, train: boolean): Float32Array {
    this.n = n;
    this.active = train && this.p > 0;
    if (!this.active) return x;
    this.mask = grow(this.mask, n);
    this.y = grow(this.y, n);
    const cut = Math.round(256 * this.p);
    const scale = 256 / (256 - cut);
    const { mask, y, rng } = this;
    let bits = 0;
    for (let i = 0; i < n; i++) {
      if ((i & 3) === 0) bits = rng.nextUint32();
      const m = (bits & 255) < cut ? 0 : scale;
      bits >>>= 8;
      mask[i] = m;
      y[i] = x[i]! * m;
    }
    return y;
  }

  backward(dy: Float32Array): Float32Array {
    if (!this.active) return dy;
    this.dx = grow(this.dx, this.n);
    const { dx, mask } = this;
    for (let i = 0; i < this.n; i++) dx[i] = dy[i]! * mask[i]!;
    return dx;
  }
}
