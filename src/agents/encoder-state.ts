/**
 * A learned sequence encoder over the session's recent items, as part of a neural agent's state
 * (issue 23 item 3): the GRU4Rec or SASRec encoder of src/nn/seq reads the observation's history
 * (item indices, oldest first, the last `encoderLen` of them) and its last hidden state is
 * appended to the hand-made `StateFeaturiser` vector. The agent's own RL loss trains it: the
 * network head's input gradient, restricted to the encoder's columns and summed over the rows of
 * each observation, goes into `encoder.backward`, and the encoder has its own Adam over its
 * parameter store.
 *
 * Item table: each item's row starts as its context item vector (the CF factors the other
 * features use), copied into the first columns when the encoder is at least as wide, else through
 * a fixed seeded Gaussian projection, and rescaled to the encoder's own initial row norm; columns
 * beyond the item vector keep their random initialisation, so items with equal vectors still start
 * apart. A learned linear map in front of the table would add nothing the table cannot already
 * learn for every item it reads, and items it never reads keep their vector-derived start either way.
 */
import type { Observation } from '../env/types.js';
import { ConfigError, ModelStateError } from '../errors.js';
import { Adam } from '../nn/index.js';
import { GruEncoder, SasRecEncoder, type SequenceEncoder } from '../nn/seq/index.js';
import { Rng } from '../util/rng.js';
import type { AgentContext } from './state.js';

export type EncoderKind = 'none' | 'gru' | 'attention';

/** The encoder knobs a neural agent's config may carry (flat, so `-p encoder=gru` sets them). */
export interface EncoderStateConfig {
  /** 'none' (default): the state is the featuriser alone, exactly as before the option existed. */
  encoder: EncoderKind;
  /** Width of the encoder's state (and of its item table). */
  encoderDim: number;
  /** GRU layers, or transformer blocks for 'attention'. */
  encoderLayers: number;
  /** Attention heads ('attention' only; encoderDim must be a multiple). */
  encoderHeads: number;
  /** How many of the most recent history items the encoder reads. */
  encoderLen: number;
  /** Adam learning rate of the encoder. */
  encoderLr: number;
}

export const ENCODER_DEFAULTS: EncoderStateConfig = {
  encoder: 'none',
  encoderDim: 16,
  encoderLayers: 1,
  encoderHeads: 1,
  encoderLen: 10,
  encoderLr: 1e-3,
};

/** The encoder settings of a (partial) config with the defaults filled in, checked; field names are the config keys. */
export function encoderConfigOf(c: Partial<EncoderStateConfig>): EncoderStateConfig {
  const e: EncoderStateConfig = {
    encoder: c.encoder ?? ENCODER_DEFAULTS.encoder,
    encoderDim: c.encoderDim ?? ENCODER_DEFAULTS.encoderDim,
    encoderLayers: c.encoderLayers ?? ENCODER_DEFAULTS.encoderLayers,
    encoderHeads: c.encoderHeads ?? ENCODER_DEFAULTS.encoderHeads,
    encoderLen: c.encoderLen ?? ENCODER_DEFAULTS.encoderLen,
    encoderLr: c.encoderLr ?? ENCODER_DEFAULTS.encoderLr,
  };
  if (!['none', 'gru', 'attention'].includes(e.encoder)) throw new ConfigError(`encoder must be none, gru or attention, got ${JSON.stringify(e.encoder)}`, 'encoder');
  for (const f of ['encoderDim', 'encoderLayers', 'encoderHeads', 'encoderLen'] as const) {
    if (!Number.isInteger(e[f]) || e[f] < 1) throw new ConfigError(`${f} must be a positive integer, got ${e[f]}`, f);
  }
  if (e.encoder === 'attention' && e.encoderDim % e.encoderHeads !== 0) {
    throw new ConfigError(`encoderDim ${e.encoderDim} must be a multiple of encoderHeads ${e.encoderHeads}`, 'encoderHeads');
  }
  if (!(e.encoderLr > 0)) throw new ConfigError(`encoderLr must be > 0, got ${e.encoderLr}`, 'encoderLr');
  return e;
}

/** A sequence encoder over observations' histories, with its optimiser and saved form. */
export class HistoryEncoder {
  readonly dim: number;
  readonly net: SequenceEncoder;
  readonly opt: Adam;
  private readonly nItems: number;
  private tokens = new Int32Array(0);
  private start = new Int32Array(0);
  /** Batch row of each observation of the last `forward` (−1: empty history, zero state, no gradient). */
  private rowOf = new Int32Array(0);
  private nObs = 0;
  private B = 0;
  private T = 0;
  private dHidden = new Float32Array(0);
  private readonly one: Observation[] = [];

  constructor(
    ctx: AgentContext,
    readonly config: EncoderStateConfig,
    seed: number,
  ) {
    if (config.encoder === 'none') throw new ConfigError('HistoryEncoder needs encoder gru or attention', 'encoder');
    const E = config.encoderDim;
    this.dim = E;
    this.nItems = ctx.items.nItems;
    // Its own stream, so the agent's acting draws and the networks' initialisation are untouched.
    const rng = new Rng((seed ^ 0x27d4eb2f) >>> 0);
    // No dropout: an agent's state at act time and at training time should be the same function.
    this.net =
      config.encoder === 'gru'
        ? new GruEncoder({ nItems: this.nItems, dim: E, layers: config.encoderLayers, maxLen: config.encoderLen, dropout: 0 }, rng)
        : new SasRecEncoder({ nItems: this.nItems, dim: E, blocks: config.encoderLayers, heads: config.encoderHeads, maxLen: config.encoderLen, dropout: 0 }, rng);
    initItemTable(this.net, ctx, rng);
    this.opt = new Adam(this.net.store.params, this.net.store.grads, { lr: config.encoderLr, maxGradNorm: 5 });
  }

  /**
   * Encoder states of `obs` (a fresh array, obs.length × dim): the last hidden state over each
   * history's last `encoderLen` valid items (indices outside the catalogue are skipped); an
   * empty history gives zeros. The forward stays cached for `backward` until the next call.
   */
  forward(obs: readonly Observation[]): Float32Array {
    const out = new Float32Array(obs.length * this.dim);
    this.run(obs, out, 0);
    return out;
  }

  /** One observation's state into out[offset .. offset + dim) (no allocation once buffers have grown). */
  encode(obs: Observation, out: Float32Array, offset = 0): void {
    this.one[0] = obs;
    this.run(this.one, out, offset);
  }

  /** The forward pass behind `forward` and `encode`: states written to out from `offset`, row o at offset + o·dim. */
  private run(obs: readonly Observation[], out: Float32Array, offset: number): void {
    const n = obs.length;
    const E = this.dim;
    const L = this.net.maxLen;
    if (this.rowOf.length < n) this.rowOf = new Int32Array(Math.max(n, 2 * this.rowOf.length));
    // Valid items per observation, counted from the end; T = the longest.
    let B = 0;
    let T = 0;
    for (let o = 0; o < n; o++) {
      const len = this.validTail(obs[o]!.history, L);
      this.rowOf[o] = len > 0 ? B++ : -1;
      T = Math.max(T, len);
    }
    this.nObs = n;
    this.B = B;
    this.T = T;
    out.fill(0, offset, offset + n * E);
    if (B === 0) return;
    if (this.tokens.length < B * T) this.tokens = new Int32Array(B * T * 2);
    if (this.start.length < B) this.start = new Int32Array(B * 2);
    this.tokens.fill(0, 0, B * T);
    for (let o = 0; o < n; o++) {
      const b = this.rowOf[o]!;
      if (b < 0) continue;
      const h = obs[o]!.history;
      // Walk back from the end, writing right-aligned (left padding, token = item + 1); the row's
      // T ≥ this history's valid tail (≤ L), so stopping at t = 0 keeps its last L valid items.
      let t = T;
      for (let a = h.length - 1; a >= 0 && t > 0; a--) {
        const i = h[a]!;
        if (i >= 0 && i < this.nItems) this.tokens[b * T + --t] = i + 1;
      }
      this.start[b] = t;
    }
    const hid = this.net.forward(this.tokens, B, T, this.start, true);
    for (let o = 0; o < n; o++) {
      const b = this.rowOf[o]!;
      if (b < 0) continue;
      const from = (b * T + T - 1) * E;
      for (let j = 0; j < E; j++) out[offset + o * E + j] = hid[from + j]!;
    }
  }

  /**
   * Accumulate the parameter gradients for dLoss/dState (rows of the last `forward`'s
   * observations, obs.length × dim); the caller then takes `step`.
   */
  backward(dStates: Float32Array): void {
    const { B, T, dim: E } = this;
    if (B === 0) return;
    const n = B * T * E;
    if (this.dHidden.length < n) this.dHidden = new Float32Array(n * 2);
    const dh = this.dHidden.fill(0, 0, n);
    for (let o = 0; o < this.nObs; o++) {
      const b = this.rowOf[o]!;
      if (b < 0) continue;
      const to = (b * T + T - 1) * E;
      for (let j = 0; j < E; j++) dh[to + j] = dStates[o * E + j]!;
    }
    this.net.backward(dh.subarray(0, n));
  }

  /** One Adam step from the accumulated gradients, then zero them (padding row kept at zero). */
  step(): void {
    this.opt.step();
    this.net.afterStep();
    this.net.store.zeroGrad();
  }

  zeroGrad(): void {
    this.net.store.zeroGrad();
  }

  /** How many of the history's last items (up to L) are valid item indices. */
  private validTail(h: Int32Array, L: number): number {
    let len = 0;
    for (let a = h.length - 1; a >= 0 && len < L; a--) if (h[a]! >= 0 && h[a]! < this.nItems) len++;
    return len;
  }

  toJSON(): { kind: string; layout: string; params: Float32Array; adam: unknown } {
    return { kind: this.config.encoder, layout: this.net.store.layout(), params: new Float32Array(this.net.store.params), adam: this.opt.toJSON() };
  }

  load(saved: unknown): void {
    const s = saved as { kind?: unknown; layout?: unknown; params?: unknown; adam?: unknown } | undefined;
    if (!s || s.kind !== this.config.encoder || s.layout !== this.net.store.layout() || !(s.params instanceof Float32Array)) {
      throw new ModelStateError(`saved encoder state is missing or has another shape (this agent has a ${this.config.encoder} encoder, layout ${this.net.store.layout()})`);
    }
    this.net.store.params.set(s.params);
    if (s.adam) this.opt.load(s.adam);
  }
}

/** Item rows 1..n from the context's item vectors, rescaled to the random table's mean row norm (see the module comment). */
function initItemTable(enc: SequenceEncoder, ctx: AgentContext, rng: Rng): void {
  const { nItems, dim: d, vectors } = ctx.items;
  const E = enc.dim;
  const w = enc.items.table.w;
  const rowNorm = (row: ArrayLike<number>, o: number, len: number): number => {
    let s = 0;
    for (let j = 0; j < len; j++) s += row[o + j]! ** 2;
    return Math.sqrt(s);
  };
  let initNorm = 0;
  for (let i = 1; i <= nItems; i++) initNorm += rowNorm(w, i * E, E);
  initNorm /= Math.max(1, nItems);
  // Projected item vectors (nItems × m): the vectors themselves when they fit, else v·P, P Gaussian.
  const m = Math.min(d, E);
  const proj = new Float32Array(nItems * m);
  if (d <= E) proj.set(vectors.subarray(0, nItems * d));
  else {
    const P = new Float32Array(d * E);
    for (let k = 0; k < P.length; k++) P[k] = rng.normal() / Math.sqrt(E);
    for (let i = 0; i < nItems; i++) {
      for (let j = 0; j < E; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += vectors[i * d + k]! * P[k * E + j]!;
        proj[i * m + j] = s;
      }
    }
  }
  let vecNorm = 0;
  for (let i = 0; i < nItems; i++) vecNorm += rowNorm(proj, i * m, m);
  vecNorm /= Math.max(1, nItems);
  // All-zero item vectors carry nothing: keep the random table.
  if (!(vecNorm > 0)) return;
  const c = initNorm / vecNorm;
  for (let i = 0; i < nItems; i++) for (let j = 0; j < m; j++) w[(i + 1) * E + j] = c * proj[i * m + j]!;
  enc.afterStep();
}
