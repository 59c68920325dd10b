/**
 * Shared machinery of the next-item recommenders (SASRec, GRU4Rec): training on each user's
 * time-ordered training sequence, early stopping on P1's validation split, scoring by the encoder's
 * state against the shared item table, fold-in, cold items, and save/load.
 *
 * Training: windows of each user's sequence (./sequence-data.ts) in length-sorted batches; at
 * every step each real position predicts the next item against negatives drawn uniformly from the
 * active items (or the whole catalogue with `loss: 'full-softmax'`); Adam on one flat parameter
 * array. With `patience` > 0, the epochs are chosen on a validation split cut from the training
 * data by P1's rule (the last 20 % of each user's rows): the model is trained on the rest, scored
 * there after every epoch, and training stops once `patience` epochs pass without a better NDCG@10;
 * then a fresh model (same seed) is trained on all the training data for the best epoch count.
 *
 * Scoring: a user's state is the encoder's last hidden state over their latest `maxLen` items (a
 * user index reads their training sequence; a `UserState` its `items`, most recent last: the
 * fold-in path, no refit), dotted with every item's embedding.
 *
 * Cold items (no training interaction) have untrained embeddings. With `coldItems: 'content'` and
 * item text in the data, their embeddings come from their text: the built-in encoder embeds every
 * item's text, a ridge regression maps warm items' text vectors onto their learned embeddings, and
 * each cold item gets its text vector's image, so it is scored like any item and can be found
 * through what it is about. Cold items without text (or with `coldItems: 'last'`) are put just
 * below the user's lowest warm score.
 */
import { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { P1_SPLIT, validationSplit } from '../data/split.js';
import { DataError } from '../errors.js';
import { Adam, type SparseRows } from '../nn/adam.js';
import { emaStepKernel } from '../nn/kernels.js';
import { encodeHistory, HistoryScratch, type SequenceEncoder } from '../nn/seq/encoder.js';
import { ItemHead } from '../nn/seq/item-head.js';
import { grow } from '../nn/seq/params.js';
import { scoreAllFactors } from '../util/dot.js';
import { Rng } from '../util/rng.js';
import { cholesky, choleskySolve } from '../util/linalg.js';
import { BuiltinEmbedder } from '../embed/builtin.js';
import { itemTexts } from '../embed/text.js';
import { BaseRecommender } from './base.js';
import { numberField, typedField } from './saved-state.js';
import { buildWindows, epochBatches, sampleNegatives, SeqBatch } from './sequence-data.js';
import type { FitOptions, UserRef } from './types.js';
import { validationNdcgOf, validationUsers } from './validation-ndcg.js';

/** Config fields every sequence model has (spread into each model's schema). */
export const sequenceConfigShape = {
  /** Embedding and hidden width (input and output item embeddings are one table). */
  dim: z.number().int().positive(),
  /** Longest history read, in items (older ones are dropped; longer training histories become several windows). */
  maxLen: z.number().int().min(2),
  dropout: z.number().min(0).lt(1),
  /** softmax: sampled softmax over `negatives`; full-softmax: over every item; bce: SASRec's; bpr-max: GRU4Rec's. */
  loss: z.enum(['softmax', 'full-softmax', 'bce', 'bpr-max']),
  /** Each position's target is drawn from the next `horizon` items (1: the next item, the classic objective). */
  horizon: z.number().int().min(1),
  /** Negatives per batch (shared by all its positions); not used by full-softmax. */
  negatives: z.number().int().positive(),
  /** λ of BPR-max's score regulariser. */
  bprMaxReg: z.number().min(0),
  learningRate: z.number().positive(),
  /** Sequences (windows) per batch. */
  batchSize: z.number().int().positive(),
  /** Epochs (the most, with early stopping). */
  epochs: z.number().int().positive(),
  /**
   * A user's state is the mean of the encoder's states at their last `pool` items (1: the last
   * state only, as the papers score). Read at scoring time only, so it can differ from fit to use.
   */
  pool: z.number().int().positive(),
  /** Stop after this many epochs without a better validation NDCG@10 (0: no validation, train `epochs`). */
  patience: z.number().int().min(0),
  /** At most this many validation users score each epoch. */
  validationUsers: z.number().int().positive(),
  /**
   * Decay of an exponential moving average of the weights (Polyak averaging), which is what the
   * model scores with; 0: the last weights. Validation NDCG moved ±0.01 from epoch to epoch with
   * the raw weights on P1.
   */
  weightAverage: z.number().min(0).lt(1),
  /** Clip the gradient's global L2 norm (0: off). */
  maxGradNorm: z.number().min(0),
  /** Cold items: 'content' maps their text onto the embedding space (when the data has item text); 'last' ranks them last. */
  coldItems: z.enum(['content', 'last']),
  seed: z.number().int(),
};

export type SequenceConfig = z.infer<z.ZodObject<typeof sequenceConfigShape>>;

/** Text vector width for the cold-item mapping, and the ridge of its regression (text vectors are unit rows). */
const COLD_TEXT_DIM = 32;
const COLD_RIDGE = 1;

/** One validation measurement of the early-stopping run. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  validationNdcg: number;
}

export abstract class SequenceRecommender<C extends SequenceConfig> extends BaseRecommender<C> {
  readonly version = 1;
  protected encoder: SequenceEncoder | null = null;
  /** 1 for items scored by their embedding: those with ≥ 1 training interaction and cold ones mapped from their text. */
  private warm: Uint8Array = new Uint8Array(0);
  /** Items left at the floor (warm 0); scoring skips the floor passes when there are none. */
  private coldLeft = 0;
  /** Cached states of training users (row u valid when hasState[u]); states are deterministic, so caching is exact. */
  private states: Float32Array = new Float32Array(0);
  private hasState: Uint8Array = new Uint8Array(0);
  private readonly scratch = new HistoryScratch();
  private stateBuf: Float32Array = new Float32Array(0);
  /** Per-epoch record of the last fit's validation run (empty without early stopping). */
  history: EpochRecord[] = [];
  /** Epochs the final model was trained for. */
  trainedEpochs = 0;

  /** A fresh encoder over nItems items, initialised from rng. */
  protected abstract makeEncoder(nItems: number, rng: Rng): SequenceEncoder;

  protected async fitModel(train: Dataset, options: FitOptions): Promise<void> {
    const { patience, epochs } = this.config;
    this.history = [];
    let runEpochs = epochs;
    if (patience > 0) {
      const { train: fitPart, validation } = validationSplit(train, P1_SPLIT);
      const users = validationUsers(validation, this.config.validationUsers);
      let best = -1;
      let bestEpoch = 1;
      await this.train(fitPart, epochs, options, (epoch, loss, enc) => {
        const ndcg = validationScore(enc, fitPart, validation, users, 10, this.config.pool);
        this.history.push({ epoch, loss, validationNdcg: ndcg });
        if (ndcg > best) {
          best = ndcg;
          bestEpoch = epoch;
        }
        return epoch - bestEpoch < patience;
      });
      runEpochs = bestEpoch;
    }
    this.encoder = await this.train(train, runEpochs, options, null);
    this.trainedEpochs = runEpochs;
    this.prepareScoring(train.itemCounts());
    if (this.config.coldItems === 'content') await this.embedColdItems(train);
  }

  /** Cold items' embeddings from their text (see the file comment); the mapped ones count as warm from then on. */
  private async embedColdItems(train: Dataset): Promise<void> {
    const n = this.nItems;
    const texts = itemTexts(train);
    const coldWithText: number[] = [];
    const warmWithText: number[] = [];
    for (let i = 0; i < n; i++) if (texts[i]) (this.warm[i] ? warmWithText : coldWithText).push(i);
    // Fewer warm examples than text dimensions would make the map a guess.
    if (coldWithText.length === 0 || warmWithText.length < COLD_TEXT_DIM) return;
    const encoder = BuiltinEmbedder.train(texts.filter((t) => t.length > 0), { dim: COLD_TEXT_DIM, seed: this.config.seed });
    const k = encoder.dim;
    const C = await encoder.embed(texts);
    const d = this.config.dim;
    const table = this.encoder!.items.table.w; // row i + 1 is item i
    // Ridge map W (k × d) from text vectors to learned embeddings over the warm items with text.
    const G = new Float64Array(k * k);
    const R = new Float64Array(k * d);
    for (const i of warmWithText) {
      const c = i * k;
      const e = (i + 1) * d;
      for (let a = 0; a < k; a++) {
        const ca = C[c + a]!;
        if (ca === 0) continue;
        for (let b = 0; b < k; b++) G[a * k + b]! += ca * C[c + b]!;
        for (let j = 0; j < d; j++) R[a * d + j]! += ca * table[e + j]!;
      }
    }
    for (let a = 0; a < k; a++) G[a * k + a]! += COLD_RIDGE;
    if (!cholesky(G, k)) return;
    const col = new Float64Array(k);
    const W = new Float64Array(k * d);
    for (let j = 0; j < d; j++) {
      for (let a = 0; a < k; a++) col[a] = R[a * d + j]!;
      choleskySolve(G, k, col);
      for (let a = 0; a < k; a++) W[a * d + j] = col[a]!;
    }
    for (const i of coldWithText) {
      const e = (i + 1) * d;
      for (let j = 0; j < d; j++) {
        let v = 0;
        for (let a = 0; a < k; a++) v += C[i * k + a]! * W[a * d + j]!;
        table[e + j] = v;
      }
      this.warm[i] = 1;
      this.coldLeft--;
    }
  }

  /**
   * Train a fresh encoder on `data` for up to `epochs` epochs. `afterEpoch` (validation runs)
   * returns false to stop early. Progress counts epochs of this run.
   */
  private async train(
    data: Dataset,
    epochs: number,
    options: FitOptions,
    afterEpoch: ((epoch: number, loss: number, enc: SequenceEncoder) => boolean) | null,
  ): Promise<SequenceEncoder> {
    const c = this.config;
    const rng = new Rng(c.seed);
    const nItems = data.nItems;
    const enc = this.makeEncoder(nItems, rng);
    const csr = data.byUser();
    const counts = data.itemCounts();
    const active = Int32Array.from([...counts.keys()].filter((i) => counts[i]! > 0));
    if (active.length === 0) throw new DataError(`${this.kind}: the training data has no interactions`, { field: 'train' });
    const win = buildWindows(csr.indptr, data.nUsers, c.maxLen);
    const head = new ItemHead(enc.items.table, enc.dim, c.loss === 'full-softmax' ? 'softmax' : c.loss, c.bprMaxReg);
    const adam = new Adam(enc.store.params, enc.store.grads, { lr: c.learningRate, maxGradNorm: c.maxGradNorm });
    const batch = new SeqBatch();
    const order = new Int32Array(win.count);
    // Fewer active items than `negatives`: every active item is a negative each step.
    const negs = new Int32Array(Math.min(c.negatives, active.length));
    const taken = new Uint8Array(nItems + 1);
    let dH: Float32Array = new Float32Array(0);
    const params = enc.store.params;
    const avg = c.weightAverage > 0 ? Float32Array.from(params) : null;
    const ema = emaStepKernel() ?? emaStepJs;
    const live = avg ? new Float32Array(params.length) : null;
    let steps = 0;
    // Item-table rows with a gradient this step (inputs, targets, negatives): Adam's clipping
    // reads only those rows of the table (see SparseRows).
    const table = enc.items.table;
    const sparse: SparseRows = { offset: table.offset, width: enc.dim, rows: nItems + 1, touched: new Uint8Array(nItems + 1) };
    const label = afterEpoch ? 'epoch (validation run)' : 'epoch';
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const bounds = epochBatches(win, c.batchSize, rng, order);
      let lossSum = 0;
      let lossN = 0;
      for (let bi = 0; bi + 1 < bounds.length; bi++) {
        batch.fill(win, order, bounds[bi]!, bounds[bi + 1]!, csr.indptr, csr.indices, c.horizon, rng);
        const rows = batch.B * batch.T;
        const H = enc.forward(batch.tokens, batch.B, batch.T, batch.start, true);
        dH = grow(dH, rows * enc.dim);
        dH.fill(0, 0, rows * enc.dim);
        if (c.loss !== 'full-softmax') sampleNegatives(active, negs.length, rng, negs, taken);
        const negatives = c.loss === 'full-softmax' ? null : negs;
        const loss = head.lossAndGrad(H, dH, batch.rows, batch.targets, batch.P, negatives, nItems + 1);
        enc.backward(dH);
        adam.step(touchedRows(sparse, batch, negatives));
        enc.afterStep();
        enc.store.zeroGrad();
        if (avg) {
          // Warm-up as in TensorFlow's ExponentialMovingAverage: early steps average over fewer.
          const beta = Math.min(c.weightAverage, (1 + steps) / (10 + steps));
          steps++;
          ema(avg, params, beta);
        }
        lossSum += loss * batch.P;
        lossN += batch.P;
      }
      options.onProgress?.(epoch, epochs, label);
      // Let timers and I/O run between epochs (a fit is long; the server stays responsive).
      await new Promise<void>((r) => setImmediate(r));
      if (afterEpoch) {
        // Validate the weights the model would score with: the average, swapped in and back out.
        if (avg && live) {
          live.set(params);
          params.set(avg);
        }
        const go = afterEpoch(epoch, lossSum / Math.max(1, lossN), enc);
        if (avg && live) params.set(live);
        if (!go) break;
      }
    }
    if (avg) params.set(avg);
    return enc;
  }

  private prepareScoring(counts: Int32Array): void {
    const d = this.config.dim;
    this.warm = new Uint8Array(this.nItems);
    this.coldLeft = 0;
    for (let i = 0; i < this.nItems; i++) {
      this.warm[i] = counts[i]! > 0 ? 1 : 0;
      this.coldLeft += 1 - this.warm[i]!;
    }
    this.states = new Float32Array(this.nUsers * d);
    this.hasState = new Uint8Array(this.nUsers);
    this.stateBuf = new Float32Array(d);
  }

  /**
   * The encoder's state for a history (item indices, most recent last) into `out` (dim values):
   * what the scores are computed from, and what an agent can take as its state.
   */
  encodeUser(user: UserRef, out: Float32Array = new Float32Array(this.config.dim)): Float32Array {
    this.assertFitted();
    const enc = this.encoder!;
    const d = this.config.dim;
    if (typeof user === 'number' && user >= 0 && user < this.nUsers) {
      const o = user * d;
      if (!this.hasState[user]) {
        encodeHistory(enc, this.seenItems(user), this.nItems, this.states.subarray(o, o + d), this.scratch, this.config.pool);
        this.hasState[user] = 1;
      }
      out.set(this.states.subarray(o, o + d));
      return out;
    }
    const items = typeof user === 'number' ? new Int32Array(0) : user.items;
    return encodeHistory(enc, items, this.nItems, out, this.scratch, this.config.pool);
  }

  /**
   * Every training user's state, row-major nUsers × dim: drop-in `userVectors` for an agent's
   * context (src/agents/state.ts), with `itemEmbeddings()` as its item vectors.
   */
  userStates(): Float32Array {
    this.assertFitted();
    const d = this.config.dim;
    const out = new Float32Array(this.nUsers * d);
    for (let u = 0; u < this.nUsers; u++) this.encodeUser(u, out.subarray(u * d, (u + 1) * d));
    return out;
  }

  /** The item embeddings the scores are dot products with, row-major nItems × dim (a view: do not write). */
  itemEmbeddings(): Float32Array {
    this.assertFitted();
    const d = this.config.dim;
    return this.encoder!.items.table.w.subarray(d, (this.nItems + 1) * d);
  }

  /**
   * A state function for agents: the encoder's output over a session's recent items (most recent
   * last, as an Observation holds them), written into `out`. No refit; items the model was not
   * fitted with are rejected by index range.
   */
  stateFunction(): (recent: Int32Array, out: Float32Array) => Float32Array {
    this.assertFitted();
    const enc = this.encoder!;
    const scratch = new HistoryScratch();
    return (recent, out) => encodeHistory(enc, recent, this.nItems, out, scratch, this.config.pool);
  }

  scoreAll(user: UserRef, out?: Float32Array): Float32Array {
    this.assertFitted();
    const o = out ?? new Float32Array(this.nItems);
    const state = this.encodeUser(user, this.stateBuf);
    scoreItems(this.encoder!, state, this.nItems, o);
    if (this.coldLeft === 0) return o;
    // Cold items without a text-mapped embedding just below the lowest other score: ranked last, yet finite for score fusion.
    let lo = Infinity;
    for (let i = 0; i < this.nItems; i++) if (this.warm[i] && o[i]! < lo) lo = o[i]!;
    const floor = lo === Infinity ? 0 : lo - 1;
    for (let i = 0; i < this.nItems; i++) if (!this.warm[i]) o[i] = floor;
    return o;
  }

  protected getState(): Record<string, unknown> {
    const enc = this.encoder!;
    return { params: enc.store.params, layout: enc.store.layout(), warm: this.warm, trainedEpochs: this.trainedEpochs };
  }

  protected setState(state: Record<string, unknown>): void {
    const enc = this.makeEncoder(this.nItems, new Rng(this.config.seed));
    const params = typedField(state, 'params', Float32Array, enc.store.size);
    if (state.layout !== enc.store.layout()) {
      throw new DataError('saved parameters do not match this model configuration', { field: 'state.layout' }, 'E_MODEL_CORRUPT');
    }
    enc.store.params.set(params);
    this.encoder = enc;
    const warm = typedField(state, 'warm', Uint8Array, this.nItems);
    const counts = new Int32Array(this.nItems);
    for (let i = 0; i < this.nItems; i++) counts[i] = warm[i]!;
    this.trainedEpochs = numberField(state, 'trainedEpochs');
    this.prepareScoring(counts);
  }
}

/**
 * Mark the item-table rows a step's gradient can reach: the batch's input tokens (the embedding),
 * its targets and the negatives (the output head); undefined (every row) with the full softmax.
 * Clears the previous step's marks first.
 */
function touchedRows(sparse: SparseRows, batch: SeqBatch, negatives: Int32Array | null): SparseRows | undefined {
  if (negatives === null) return undefined;
  const t = sparse.touched;
  t.fill(0);
  const n = batch.B * batch.T;
  for (let r = 0; r < n; r++) t[batch.tokens[r]!] = 1;
  for (let p = 0; p < batch.P; p++) t[batch.targets[p]!] = 1;
  for (let k = 0; k < negatives.length; k++) t[negatives[k]!] = 1;
  return sparse;
}

/**
 * avg ← β·avg + (1 − β)·params, each value in float64 and rounded once to float32. Four values per
 * iteration: the same arithmetic with a quarter of the loop overhead (this runs over every
 * parameter, the whole item table, after every step). The native kernel (nn/native/seqtrain.c)
 * gives the same bits and runs instead when the addon is built; this is its twin and fallback.
 */
export function emaStepJs(avg: Float32Array, params: Float32Array, beta: number): void {
  const rest = 1 - beta;
  const n = avg.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a0 = avg[i]!;
    const a1 = avg[i + 1]!;
    const a2 = avg[i + 2]!;
    const a3 = avg[i + 3]!;
    avg[i] = beta * a0 + rest * params[i]!;
    avg[i + 1] = beta * a1 + rest * params[i + 1]!;
    avg[i + 2] = beta * a2 + rest * params[i + 2]!;
    avg[i + 3] = beta * a3 + rest * params[i + 3]!;
  }
  for (; i < n; i++) avg[i] = beta * avg[i]! + rest * params[i]!;
}

/** scores[i] = item i's embedding · state for every item (the table's row i + 1). */
function scoreItems(enc: SequenceEncoder, state: Float32Array, nItems: number, out: Float32Array): void {
  const d = enc.dim;
  scoreAllFactors(state, enc.items.table.w.subarray(d, (nItems + 1) * d), nItems, d, out);
}

/**
 * Mean NDCG@k on the validation rows of `users`, each user encoded from their fit-part sequence;
 * P1's candidates (items with a fit interaction, minus the user's fit items).
 */
function validationScore(enc: SequenceEncoder, fitPart: Dataset, validation: Dataset, users: Int32Array, k: number, pool: number): number {
  const n = fitPart.nItems;
  const fit = fitPart.byUser();
  const state = new Float32Array(enc.dim);
  const scratch = new HistoryScratch();
  const score = (u: number, out: Float32Array): void => {
    encodeHistory(enc, fit.indices.subarray(fit.indptr[u]!, fit.indptr[u + 1]!), n, state, scratch, pool);
    scoreItems(enc, state, n, out);
  };
  return validationNdcgOf(score, fitPart, validation, users, k);
}
