/**
 * Multi-layer perceptron over Float32Array with a hand-written backward pass.
 *
 * All weights live in one flat `params` array (and gradients in `grads`), each layer's W and b
 * being views into it, so the optimiser, target-network copies and serialisation each touch one
 * array. Layer l maps in_l → out_l with W_l stored in_l×out_l row-major: forward is Y = X·W + b,
 * backward is dW += Xᵀ·dZ and dX = dZ·Wᵀ, all through the kernels' GEMM (transposes are packed
 * by the kernel, never materialised). Buffers grow with the batch size and are then reused, so
 * steady-state training allocates nothing.
 */
import { ConfigError, DataError } from '../errors.js';
import type { Rng } from '../util/rng.js';
import { ACT_CODES, kernels } from './kernels.js';

export type Activation = 'linear' | 'relu' | 'tanh' | 'sigmoid';

export interface MlpConfig {
  /** Layer widths, input first: [128, 256, 128, 1] is two hidden layers. */
  sizes: number[];
  /** Activation of the hidden layers (default relu). */
  hidden?: Activation;
  /** Activation of the output layer (default linear). */
  output?: Activation;
  /**
   * Multiplier on the output layer's initial weights (default 1). Policy and actor heads use a
   * small value so the initial policy is near uniform / the initial action near zero.
   */
  outputInitScale?: number;
}

export interface MlpJson {
  kind: 'mlp';
  version: 1;
  config: Required<MlpConfig>;
  params: Float32Array;
}

const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'tanh', 'sigmoid'];

export class Mlp {
  readonly config: Required<MlpConfig>;
  readonly params: Float32Array;
  readonly grads: Float32Array;
  readonly inDim: number;
  readonly outDim: number;
  private readonly wOff: number[] = [];
  private readonly bOff: number[] = [];
  /** Per-layer views into params/grads, made once (params are never reallocated). */
  private readonly wView: Float32Array[] = [];
  private readonly bView: Float32Array[] = [];
  private readonly gwView: Float32Array[] = [];
  private readonly gbView: Float32Array[] = [];
  /** acts[l + 1] = output of layer l for the last forward batch; acts[0] is the caller's input. */
  private acts: Float32Array[] = [];
  private deltas: Float32Array[] = [];
  private capacity = 0;
  private lastBatch = 0;

  constructor(config: MlpConfig, rng: Rng) {
    this.config = {
      sizes: [...config.sizes],
      hidden: config.hidden ?? 'relu',
      output: config.output ?? 'linear',
      outputInitScale: config.outputInitScale ?? 1,
    };
    const { sizes } = this.config;
    if (sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
      throw new ConfigError(`MLP sizes must be ≥ 2 positive integers, got [${sizes.join(', ')}]`, 'sizes');
    }
    for (const [field, a] of [['hidden', this.config.hidden], ['output', this.config.output]] as const) {
      if (!ACTIVATIONS.includes(a)) throw new ConfigError(`unknown activation "${a}"`, field);
    }
    this.inDim = sizes[0]!;
    this.outDim = sizes[sizes.length - 1]!;
    let n = 0;
    for (let l = 0; l + 1 < sizes.length; l++) {
      this.wOff.push(n);
      n += sizes[l]! * sizes[l + 1]!;
      this.bOff.push(n);
      n += sizes[l + 1]!;
    }
    this.params = new Float32Array(n);
    this.grads = new Float32Array(n);
    for (let l = 0; l + 1 < sizes.length; l++) {
      const w0 = this.wOff[l]!;
      const b0 = this.bOff[l]!;
      const w1 = w0 + sizes[l]! * sizes[l + 1]!;
      const b1 = b0 + sizes[l + 1]!;
      this.wView.push(this.params.subarray(w0, w1));
      this.bView.push(this.params.subarray(b0, b1));
      this.gwView.push(this.grads.subarray(w0, w1));
      this.gbView.push(this.grads.subarray(b0, b1));
    }
    this.init(rng);
  }

  get nLayers(): number {
    return this.config.sizes.length - 1;
  }

  /** Weights of layer l (in×out view into params). */
  weight(l: number): Float32Array {
    return this.wView[l]!;
  }

  bias(l: number): Float32Array {
    return this.bView[l]!;
  }

  /**
   * PyTorch's nn.Linear default: W and b uniform in ±1/√fan_in (so runs are comparable with the
   * PyTorch benchmark); the output layer is scaled by outputInitScale.
   */
  init(rng: Rng): void {
    const { sizes, outputInitScale } = this.config;
    for (let l = 0; l < this.nLayers; l++) {
      const bound = (1 / Math.sqrt(sizes[l]!)) * (l === this.nLayers - 1 ? outputInitScale : 1);
      const w = this.weight(l);
      for (let i = 0; i < w.length; i++) w[i] = (2 * rng.next() - 1) * bound;
      const b = this.bias(l);
      for (let i = 0; i < b.length; i++) b[i] = (2 * rng.next() - 1) * bound;
    }
  }

  private ensure(batch: number): void {
    if (batch <= this.capacity) return;
    const cap = Math.max(batch, this.capacity * 2);
    const { sizes } = this.config;
    this.acts = [new Float32Array(0)];
    this.deltas = [];
    for (let l = 0; l < this.nLayers; l++) {
      this.acts.push(new Float32Array(cap * sizes[l + 1]!));
      this.deltas.push(new Float32Array(cap * Math.max(sizes[l]!, sizes[l + 1]!)));
    }
    this.capacity = cap;
  }

  /**
   * Forward pass for `batch` rows of x (batch×inDim, row-major). Returns a view of the output
   * (batch×outDim) that stays valid until the next forward. x must stay unchanged until backward.
   */
  forward(x: Float32Array, batch: number): Float32Array {
    if (x.length < batch * this.inDim) {
      throw new DataError(`MLP input has ${x.length} values, need ${batch}×${this.inDim}`, { field: 'x' });
    }
    this.ensure(batch);
    this.lastBatch = batch;
    this.acts[0] = x;
    const { sizes, hidden, output } = this.config;
    const k = kernels();
    for (let l = 0; l < this.nLayers; l++) {
      const nIn = sizes[l]!;
      const nOut = sizes[l + 1]!;
      const y = this.acts[l + 1]!;
      k.sgemm(false, false, batch, nOut, nIn, 1, this.acts[l]!, nIn, this.weight(l), nOut, 0, y, nOut);
      k.biasAct(y, this.bias(l), batch, nOut, ACT_CODES[l === this.nLayers - 1 ? output : hidden]);
    }
    return this.acts[this.nLayers]!.subarray(0, batch * this.outDim);
  }

  /**
   * Backward pass for the last forward batch, given dLoss/dOutput (batch×outDim). Adds the
   * parameter gradients into `grads` (call zeroGrad between steps) and returns dLoss/dInput
   * (a view valid until the next call).
   */
  backward(dOut: Float32Array, needInputGrad = false): Float32Array | null {
    const batch = this.lastBatch;
    const { sizes, hidden, output } = this.config;
    const k = kernels();
    let d: Float32Array = dOut;
    for (let l = this.nLayers - 1; l >= 0; l--) {
      const nIn = sizes[l]!;
      const nOut = sizes[l + 1]!;
      const dz = this.deltas[l]!;
      const gb = this.gbView[l]!;
      k.actGrad(d, this.acts[l + 1]!, dz, gb, batch, nOut, ACT_CODES[l === this.nLayers - 1 ? output : hidden]);
      const gW = this.gwView[l]!;
      k.sgemm(true, false, nIn, nOut, batch, 1, this.acts[l]!, nIn, dz, nOut, 1, gW, nOut);
      if (l === 0 && !needInputGrad) return null;
      // dX = dZ·Wᵀ goes into the previous layer's delta buffer (sized for max(in, out)).
      const dx = l > 0 ? this.deltas[l - 1]! : this.inputGrad(batch);
      k.sgemm(false, true, batch, nIn, nOut, 1, dz, nOut, this.weight(l), nOut, 0, dx, nIn);
      d = dx;
    }
    return d.subarray(0, batch * this.inDim);
  }

  private inGrad = new Float32Array(0);
  private inputGrad(batch: number): Float32Array {
    if (this.inGrad.length < batch * this.inDim) this.inGrad = new Float32Array(this.capacity * this.inDim);
    return this.inGrad;
  }

  zeroGrad(): void {
    this.grads.fill(0);
  }

  /** Copy another network's weights (same shape), e.g. into a target network. */
  copyFrom(other: Mlp): void {
    this.checkSameShape(other);
    this.params.set(other.params);
  }

  /** Polyak averaging: θ ← (1 − τ)·θ + τ·θ_other. */
  softUpdateFrom(other: Mlp, tau: number): void {
    this.checkSameShape(other);
    const p = this.params;
    const q = other.params;
    for (let i = 0; i < p.length; i++) p[i] = p[i]! + tau * (q[i]! - p[i]!);
  }

  clone(rng: Rng): Mlp {
    const m = new Mlp(this.config, rng);
    m.params.set(this.params);
    return m;
  }

  private checkSameShape(other: Mlp): void {
    if (other.params.length !== this.params.length || other.config.sizes.join() !== this.config.sizes.join()) {
      throw new ConfigError(`MLP shapes differ: [${other.config.sizes}] vs [${this.config.sizes}]`, 'sizes');
    }
  }

  toJSON(): MlpJson {
    return { kind: 'mlp', version: 1, config: this.config, params: new Float32Array(this.params) };
  }

  static fromJSON(json: unknown, rng: Rng): Mlp {
    const j = json as Partial<MlpJson>;
    if (!j || j.kind !== 'mlp' || j.version !== 1 || !j.config || !(j.params instanceof Float32Array)) {
      throw new DataError('not a saved MLP (kind "mlp", version 1)', { field: 'mlp' });
    }
    const m = new Mlp(j.config, rng);
    if (j.params.length !== m.params.length) {
      throw new DataError(`saved MLP has ${j.params.length} parameters, its sizes need ${m.params.length}`, { field: 'params' });
    }
    m.params.set(j.params);
    return m;
  }
}
