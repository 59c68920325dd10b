/**
 * Item embedding with a padding token, plus learned positional embeddings.
 *
 * Tokens are item index + 1; token 0 is padding, whose row is held at zero (never updated) so a
 * padded position contributes nothing. The table is (nItems + 1) × dim and is also what the
 * output head scores against (shared input/output embeddings, as SASRec does), so its gradient
 * collects both uses.
 */
import { grow, type ParamBlock, type ParamStore } from './params.js';

export const PAD = 0;

export class Embedding {
  readonly table: ParamBlock;
  private y: Float32Array = new Float32Array(0);
  private tokens: Int32Array = new Int32Array(0);
  private rows = 0;

  constructor(
    store: ParamStore,
    name: string,
    readonly nTokens: number,
    readonly dim: number,
    std: number,
  ) {
    this.table = store.claim(`${name}.table`, nTokens * dim, { kind: 'normal', std });
  }

  /** Zero the padding row (after initialisation and after each optimiser step). */
  clearPadding(): void {
    this.table.w.fill(0, 0, this.dim);
  }

  /** rows × dim: scale · table[token] (padding rows are 0). */
  forward(tokens: Int32Array, rows: number, scale = 1): Float32Array {
    const d = this.dim;
    this.tokens = tokens;
    this.rows = rows;
    this.y = grow(this.y, rows * d);
    const { y } = this;
    const t = this.table.w;
    for (let r = 0; r < rows; r++) {
      const tok = tokens[r]!;
      const o = r * d;
      if (tok === PAD) y.fill(0, o, o + d);
      else {
        const s = tok * d;
        for (let j = 0; j < d; j++) y[o + j] = scale * t[s + j]!;
      }
    }
    return y;
  }

  /** Scatter-add scale · dy into the rows' gradients (padding skipped). */
  backward(dy: Float32Array, scale = 1): void {
    const d = this.dim;
    const g = this.table.g;
    for (let r = 0; r < this.rows; r++) {
      const tok = this.tokens[r]!;
      if (tok === PAD) continue;
      const s = tok * d;
      const o = r * d;
      for (let j = 0; j < d; j++) g[s + j]! += scale * dy[o + j]!;
    }
  }
}

/**
 * Learned positional embedding indexed by distance from the end of the sequence (0 = the most
 * recent item), so the last item always meets the same vector whatever the batch's padded length
 * (SASRec pads on the left to the same effect).
 */
export class PositionalEmbedding {
  readonly table: ParamBlock;

  constructor(
    store: ParamStore,
    name: string,
    readonly maxLen: number,
    readonly dim: number,
  ) {
    this.table = store.claim(`${name}.table`, maxLen * dim, { kind: 'normal', std: 0.02 });
  }

  /** x[b, t] += pos[T − 1 − t] for the non-padding rows (start[b] = first real step of sequence b). */
  addTo(x: Float32Array, B: number, T: number, start: Int32Array): void {
    const d = this.dim;
    const p = this.table.w;
    for (let b = 0; b < B; b++) {
      for (let t = start[b]!; t < T; t++) {
        const o = (b * T + t) * d;
        const s = (T - 1 - t) * d;
        for (let j = 0; j < d; j++) x[o + j]! += p[s + j]!;
      }
    }
  }

  backward(dx: Float32Array, B: number, T: number, start: Int32Array): void {
    const d = this.dim;
    const g = this.table.g;
    for (let b = 0; b < B; b++) {
      for (let t = start[b]!; t < T; t++) {
        const o = (b * T + t) * d;
        const s = (T - 1 - t) * d;
        for (let j = 0; j < d; j++) g[s + j]! += dx[o + j]!;
      }
    }
  }
}
