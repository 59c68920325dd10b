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
  private words: Uint32Array = new Uint32Array(0);
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
    // One word per four values, drawn in one batch (the same words, in order, as one draw each).
    const words = (n + 3) >>> 2;
    if (this.words.length < words) this.words = new Uint32Array(Math.max(words, Math.ceil(this.words.length * 1.5)));
    this.rng.fillUint32(this.words, words);
    const { mask, y } = this;
    const w32 = this.words;
    for (let w = 0, i = 0; w < words; w++) {
      let bits = w32[w]!;
      const end = Math.min(n, i + 4);
      for (; i < end; i++) {
        const m = (bits & 255) < cut ? 0 : scale;
        bits >>>= 8;
        mask[i] = m;
        y[i] = x[i]! * m;
      }
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
