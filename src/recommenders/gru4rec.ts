/**
 * GRU4Rec (Hidasi et al. 2016; the BPR-max / sampled-softmax training of Hidasi & Karatzoglou
 * 2018): a GRU reads the user's items in order and its last state · an item's embedding scores
 * that item (the input table doubles as the output one). The encoder is
 * src/nn/seq/gru-encoder.ts; training, early stopping, fold-in and persistence are shared with
 * SASRec (./sequence.ts).
 */
import { z } from 'zod';
import { GruEncoder } from '../nn/seq/gru-encoder.js';
import type { Rng } from '../util/rng.js';
import { SequenceRecommender, sequenceConfigShape } from './sequence.js';

export const gru4RecConfigSchema = z.strictObject({
  ...sequenceConfigShape,
  /** Stacked GRU layers. */
  layers: z.number().int().positive(),
});
export type Gru4RecConfig = z.infer<typeof gru4RecConfigSchema>;

/**
 * Chosen on P1's validation split (never test), NDCG@10 of the best epoch, with SASRec's batching
 * (maxLen 50, batch 16): weight average 0.99 with lr 2e-3 0.1154 (epoch 30, the last), lr 4e-3
 * 0.1159 (24), lr 4e-3 + dropout 0.3 0.1204 (30, the last); weight average 0.998, lr 4e-3,
 * dropout 0.3: 0.1231 (32 of 36). EASE's validation NDCG is 0.1341.
 */
export const GRU4REC_DEFAULTS: Gru4RecConfig = {
  dim: 64,
  layers: 1,
  maxLen: 50,
  dropout: 0.3,
  loss: 'softmax',
  horizon: 1,
  negatives: 256,
  bprMaxReg: 1,
  learningRate: 4e-3,
  batchSize: 16,
  epochs: 32,
  pool: 1,
  patience: 0,
  validationUsers: 1000,
  weightAverage: 0.998,
  maxGradNorm: 5,
  coldItems: 'content',
  seed: 0,
};

export class Gru4Rec extends SequenceRecommender<Gru4RecConfig> {
  readonly kind = 'gru4rec';

  constructor(config: Partial<Gru4RecConfig> = {}) {
    super(gru4RecConfigSchema.parse({ ...GRU4REC_DEFAULTS, ...config }));
  }

  protected makeEncoder(nItems: number, rng: Rng): GruEncoder {
    const { dim, layers, maxLen, dropout } = this.config;
    return new GruEncoder({ nItems, dim, layers, maxLen, dropout }, rng);
  }
}
