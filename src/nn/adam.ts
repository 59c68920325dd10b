/** Adam (Kingma & Ba 2015) over one flat parameter array, with optional global-norm clipping. */
import { ConfigError, DataError } from '../errors.js';
import { kernels } from './kernels.js';

export interface AdamConfig {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Clip the gradient to this global L2 norm before the step (0 = off). */
  maxGradNorm?: number;
}

export interface AdamJson {
  kind: 'adam';
  version: 1;
  config: Required<AdamConfig>;
  t: number;
  m: Float32Array;
  v: Float32Array;
}

/** Rows [0, rows) of `width` values from `offset`; only rows with touched[r] ≠ 0 may hold non-zero gradients. */
export interface SparseRows {
  offset: number;
  width: number;
  rows: number;
  touched: Uint8Array;
}

/** The [from, to) ranges that may hold non-zero gradients, ascending: everything, less the untouched rows. */
function denseParts(n: number, sparse: SparseRows | undefined): [number, number][] {
  if (!sparse) return [[0, n]];
  const { offset, width, rows, touched } = sparse;
  if (!(offset >= 0 && width > 0 && offset + rows * width <= n && touched.length >= rows)) {
    throw new ConfigError(`Adam: sparse rows [${offset}, ${offset + rows * width}) do not fit the ${n} parameters`, 'sparse');
  }
  const parts: [number, number][] = [[0, offset]];
  for (let r = 0; r < rows; r++) {
    if (!touched[r]) continue;
    const from = offset + r * width;
    const last = parts[parts.length - 1]!;
    if (last[1] === from) last[1] = from + width;
    else parts.push([from, from + width]);
  }
  parts.push([offset + rows * width, n]);
  return parts;
}

export class Adam {
  readonly config: Required<AdamConfig>;
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private t = 0;

  constructor(
    private readonly params: Float32Array,
    private readonly grads: Float32Array,
    config: AdamConfig = {},
  ) {
    this.config = {
      lr: config.lr ?? 1e-3,
      beta1: config.beta1 ?? 0.9,
      beta2: config.beta2 ?? 0.999,
      eps: config.eps ?? 1e-8,
      maxGradNorm: config.maxGradNorm ?? 0,
    };
    if (!(this.config.lr > 0)) throw new ConfigError(`Adam lr must be > 0, got ${this.config.lr}`, 'lr');
    if (params.length !== grads.length) throw new ConfigError('Adam: params and grads differ in length', 'params');
    this.m = new Float32Array(params.length);
    this.v = new Float32Array(params.length);
  }

  get steps(): number {
    return this.t;
  }

  /**
   * Apply one update from the current gradients (the caller zeroes them afterwards). `sparse`
   * names a block of rows of which only the marked ones may hold non-zero gradients (an item
   * table, most of whose rows a step does not touch): clipping then reads only those rows there.
   */
  step(sparse?: SparseRows): void {
    const { lr, beta1, beta2, eps, maxGradNorm } = this.config;
    if (maxGradNorm > 0) {
      // Zero gradients are skipped, value by value and (with `sparse`) row by row: adding 0
      // leaves the sum (which starts at +0) unchanged and scaling leaves them 0, so the norm and
      // the clipped gradients are those of the full pass, in the same order of additions.
      const g = this.grads;
      const parts = denseParts(g.length, sparse);
      let s = 0;
      for (const [from, to] of parts) {
        for (let i = from; i < to; i++) {
          const x = g[i]!;
          if (x !== 0) s += x * x;
        }
      }
      const norm = Math.sqrt(s);
      if (norm > maxGradNorm) {
        const f = maxGradNorm / norm;
        for (const [from, to] of parts) for (let i = from; i < to; i++) if (g[i] !== 0) g[i]! *= f;
      }
    }
    this.t++;
    kernels().adam(this.params, this.grads, this.m, this.v, lr, beta1, beta2, eps, 1 - beta1 ** this.t, 1 - beta2 ** this.t);
  }

  toJSON(): AdamJson {
    return { kind: 'adam', version: 1, config: this.config, t: this.t, m: new Float32Array(this.m), v: new Float32Array(this.v) };
  }

  /** Restore moments and step count saved by toJSON (for an optimiser over the same params). */
  load(json: unknown): void {
    const j = json as Partial<AdamJson>;
    if (!j || j.kind !== 'adam' || !(j.m instanceof Float32Array) || !(j.v instanceof Float32Array) || j.m.length !== this.m.length) {
      throw new DataError('saved Adam state does not match this optimiser', { field: 'adam' });
    }
    this.m.set(j.m);
    this.v.set(j.v!);
    this.t = j.t ?? 0;
  }
}
