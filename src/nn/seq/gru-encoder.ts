/**
 * GRU4Rec's encoder (Hidasi et al. 2016): item embeddings, dropout, one or more GRU layers; the
 * state at step t is the last layer's hidden vector, read by the shared-table output head.
 */
import type { Rng } from '../../util/rng.js';
import { Dropout } from './dropout.js';
import { Embedding } from './embedding.js';
import type { SequenceEncoder } from './encoder.js';
import { Gru } from './gru.js';
import { ParamStore } from './params.js';

export interface GruEncoderConfig {
  nItems: number;
  dim: number;
  layers: number;
  maxLen: number;
  dropout: number;
}

export class GruEncoder implements SequenceEncoder {
  readonly store = new ParamStore();
  readonly items: Embedding;
  readonly dim: number;
  readonly maxLen: number;
  private readonly grus: Gru[] = [];
  private readonly drops: Dropout[] = [];

  constructor(
    readonly config: GruEncoderConfig,
    rng: Rng,
  ) {
    const d = config.dim;
    this.dim = d;
    this.maxLen = config.maxLen;
    this.items = new Embedding(this.store, 'items', config.nItems + 1, d, 1 / Math.sqrt(d));
    for (let l = 0; l < config.layers; l++) {
      this.drops.push(new Dropout(config.dropout, rng));
      this.grus.push(new Gru(this.store, `gru${l}`, d, d));
    }
    this.store.seal(rng);
    this.items.clearPadding();
  }

  forward(tokens: Int32Array, B: number, T: number, start: Int32Array, train: boolean): Float32Array {
    const rows = B * T;
    let x = this.items.forward(tokens, rows);
    for (let l = 0; l < this.grus.length; l++) x = this.grus[l]!.forward(this.drops[l]!.forward(x, rows * this.dim, train), B, T, start);
    return x;
  }

  backward(dHidden: Float32Array): void {
    let dx = dHidden;
    for (let l = this.grus.length - 1; l >= 0; l--) dx = this.drops[l]!.backward(this.grus[l]!.backward(dx));
    this.items.backward(dx);
  }

  afterStep(): void {
    this.items.clearPadding();
  }
}
