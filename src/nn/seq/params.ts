/**
 * One flat parameter array (and its gradient twin) shared by every layer of a sequence model, so
 * that one Adam, one gradient-norm clip and one saved Float32Array cover the whole model. Layers
 * claim named blocks at construction; their weights and gradients are views into the two arrays,
 * made once (the arrays are allocated when the model is sealed and never reallocated).
 */
import { ConfigError } from '../../errors.js';
import type { Rng } from '../../util/rng.js';

/** A claimed block: the weight view and the gradient view over the same range. */
export interface ParamBlock {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
  w: Float32Array;
  g: Float32Array;
}

export type Init = { kind: 'zeros' } | { kind: 'ones' } | { kind: 'normal'; std: number } | { kind: 'uniform'; limit: number };

export class ParamStore {
  private readonly blocks: ParamBlock[] = [];
  private readonly inits: Init[] = [];
  private total = 0;
  private sealedParams: Float32Array | null = null;
  private sealedGrads: Float32Array | null = null;

  /** Reserve `length` values named `name` (views are valid after `seal`). */
  claim(name: string, length: number, init: Init): ParamBlock {
    if (this.sealedParams) throw new ConfigError(`parameter "${name}" claimed after the store was sealed`, name);
    if (!Number.isInteger(length) || length < 0) throw new ConfigError(`parameter "${name}" needs a whole length, got ${length}`, name);
    const b: ParamBlock = { name, offset: this.total, length, w: new Float32Array(0), g: new Float32Array(0) };
    this.blocks.push(b);
    this.inits.push(init);
    this.total += length;
    return b;
  }

  /** Allocate the arrays, point every block's views into them and initialise from `rng`. */
  seal(rng: Rng): void {
    const p = new Float32Array(this.total);
    const g = new Float32Array(this.total);
    for (let k = 0; k < this.blocks.length; k++) {
      const b = this.blocks[k]!;
      b.w = p.subarray(b.offset, b.offset + b.length);
      b.g = g.subarray(b.offset, b.offset + b.length);
      const init = this.inits[k]!;
      if (init.kind === 'ones') b.w.fill(1);
      else if (init.kind === 'normal') for (let i = 0; i < b.length; i++) b.w[i] = rng.normal() * init.std;
      else if (init.kind === 'uniform') for (let i = 0; i < b.length; i++) b.w[i] = (2 * rng.next() - 1) * init.limit;
    }
    this.sealedParams = p;
    this.sealedGrads = g;
  }

  get params(): Float32Array {
    if (!this.sealedParams) throw new ConfigError('parameter store used before seal()', 'params');
    return this.sealedParams;
  }

  get grads(): Float32Array {
    if (!this.sealedGrads) throw new ConfigError('parameter store used before seal()', 'grads');
    return this.sealedGrads;
  }

  get size(): number {
    return this.total;
  }

  zeroGrad(): void {
    this.grads.fill(0);
  }

  /** Names and lengths, in order (what a saved model checks its parameter layout against). */
  layout(): string {
    return this.blocks.map((b) => `${b.name}:${b.length}`).join(',');
  }
}

/** A Float32Array at least `n` long: `buf` itself when it is, else a new one (buffers grow, then stay). */
export function grow(buf: Float32Array, n: number): Float32Array {
  return buf.length >= n ? buf : new Float32Array(Math.max(n, Math.ceil(buf.length * 1.5)));
}
