/**
 * SASRec's encoder (Kang & McAuley 2018): item embeddings scaled by √d plus learned positions,
 * dropout, then `blocks` pre-norm transformer blocks
 *   x ← x + Dropout(Attention(LN(x)));  x ← x + Dropout(W₂·Dropout(ReLU(W₁·LN(x))))
 * and a final layer norm. Attention is causal (./attention.ts), so the state at step t reads
 * only items up to t.
 */
import type { Rng } from '../../util/rng.js';
import { CausalSelfAttention } from './attention.js';
import { Dropout } from './dropout.js';
import { Embedding, PositionalEmbedding } from './embedding.js';
import type { SequenceEncoder } from './encoder.js';
import { LayerNorm } from './layer-norm.js';
import { Linear } from './linear.js';
import { grow, ParamStore } from './params.js';

export interface SasRecEncoderConfig {
  nItems: number;
  dim: number;
  blocks: number;
  heads: number;
  maxLen: number;
  dropout: number;
}

class TransformerBlock {
  private readonly ln1: LayerNorm;
  private readonly ln2: LayerNorm;
  private readonly attn: CausalSelfAttention;
  private readonly ff1: Linear;
  private readonly ff2: Linear;
  private readonly drop1: Dropout;
  private readonly drop2: Dropout;
  private x1: Float32Array = new Float32Array(0);
  private x2: Float32Array = new Float32Array(0);
  private dx1: Float32Array = new Float32Array(0);
  private dx0: Float32Array = new Float32Array(0);
  private rows = 0;

  constructor(store: ParamStore, name: string, d: number, heads: number, dropout: number, rng: Rng) {
    this.ln1 = new LayerNorm(store, `${name}.ln1`, d);
    this.attn = new CausalSelfAttention(store, `${name}.attn`, d, heads, dropout, rng);
    this.ln2 = new LayerNorm(store, `${name}.ln2`, d);
    this.ff1 = new Linear(store, `${name}.ff1`, d, d, 'relu');
    this.ff2 = new Linear(store, `${name}.ff2`, d, d);
    this.drop1 = new Dropout(dropout, rng);
    this.drop2 = new Dropout(dropout, rng);
  }

  forward(x: Float32Array, B: number, T: number, start: Int32Array, train: boolean, d: number): Float32Array {
    const rows = B * T;
    const n = rows * d;
    this.rows = rows;
    this.x1 = grow(this.x1, n);
    this.x2 = grow(this.x2, n);
    const a = this.attn.forward(this.ln1.forward(x, rows), B, T, start, train);
    const { x1, x2 } = this;
    for (let i = 0; i < n; i++) x1[i] = x[i]! + a[i]!;
    const h = this.drop1.forward(this.ff1.forward(this.ln2.forward(x1, rows), rows), rows * d, train);
    const f = this.drop2.forward(this.ff2.forward(h, rows), n, train);
    for (let i = 0; i < n; i++) x2[i] = x1[i]! + f[i]!;
    return x2;
  }

  backward(dx2: Float32Array, d: number): Float32Array {
    const rows = this.rows;
    const n = rows * d;
    this.dx1 = grow(this.dx1, n);
    this.dx0 = grow(this.dx0, n);
    const { dx1, dx0 } = this;
    const dln2 = this.ln2.backward(this.ff1.backward(this.drop1.backward(this.ff2.backward(this.drop2.backward(dx2)))));
    for (let i = 0; i < n; i++) dx1[i] = dx2[i]! + dln2[i]!;
    const dln1 = this.ln1.backward(this.attn.backward(dx1));
    for (let i = 0; i < n; i++) dx0[i] = dx1[i]! + dln1[i]!;
    return dx0;
  }
}

export class SasRecEncoder implements SequenceEncoder {
  readonly store = new ParamStore();
  readonly items: Embedding;
  readonly dim: number;
  readonly maxLen: number;
  private readonly pos: PositionalEmbedding;
  private readonly embDrop: Dropout;
  private readonly blocks: TransformerBlock[] = [];
  private readonly lnOut: LayerNorm;
  private readonly scale: number;
  private x0: Float32Array = new Float32Array(0);
  private B = 0;
  private T = 0;
  private start: Int32Array = new Int32Array(0);

  constructor(
    readonly config: SasRecEncoderConfig,
    rng: Rng,
  ) {
    const d = config.dim;
    this.dim = d;
    this.maxLen = config.maxLen;
    this.scale = Math.sqrt(d);
    this.items = new Embedding(this.store, 'items', config.nItems + 1, d, 1 / d);
    this.pos = new PositionalEmbedding(this.store, 'pos', config.maxLen, d);
    this.embDrop = new Dropout(config.dropout, rng);
    for (let b = 0; b < config.blocks; b++) this.blocks.push(new TransformerBlock(this.store, `block${b}`, d, config.heads, config.dropout, rng));
    this.lnOut = new LayerNorm(this.store, 'lnOut', d);
    this.store.seal(rng);
    this.items.clearPadding();
  }

  forward(tokens: Int32Array, B: number, T: number, start: Int32Array, train: boolean): Float32Array {
    const d = this.dim;
    const rows = B * T;
    this.B = B;
    this.T = T;
    this.start = start;
    const e = this.items.forward(tokens, rows, this.scale);
    this.pos.addTo(e, B, T, start);
    let x = this.embDrop.forward(e, rows * d, train);
    this.x0 = x;
    for (const blk of this.blocks) x = blk.forward(x, B, T, start, train, d);
    return this.lnOut.forward(x, rows);
  }

  backward(dHidden: Float32Array): void {
    const d = this.dim;
    let dx = this.lnOut.backward(dHidden);
    for (let b = this.blocks.length - 1; b >= 0; b--) dx = this.blocks[b]!.backward(dx, d);
    const de = this.embDrop.backward(dx);
    this.pos.backward(de, this.B, this.T, this.start);
    this.items.backward(de, this.scale);
  }

  afterStep(): void {
    this.items.clearPadding();
  }
}
