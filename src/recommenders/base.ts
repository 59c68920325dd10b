import type { Dataset } from '../data/dataset.js';
import { ModelStateError } from '../errors.js';
import { privacyFromHyperparameters, type PrivacyReport } from '../privacy/config.js';
import { topK } from '../util/topk.js';
import type { FitOptions, Ranked, RecommendOptions, Recommender, SavedModel, UserRef } from './types.js';

/**
 * Shared plumbing for recommenders: remembers the training interactions (to exclude seen items),
 * implements `score` and `recommend` on top of `scoreAll`. A model implements `fitModel`,
 * `scoreAll`, and `getState`/`setState` for persistence.
 */
export abstract class BaseRecommender<C extends object> implements Recommender {
  abstract readonly kind: string;
  /** Bump when the saved state layout of this model kind changes. */
  abstract readonly version: number;
  readonly config: Readonly<C>;
  protected nUsers = 0;
  protected nItems = 0;
  /** Training CSR by user (indptr/indices), kept to exclude seen items and to fold in. */
  protected seenIndptr: Int32Array = new Int32Array(1);
  protected seenIndices: Int32Array = new Int32Array(0);
  protected fitted = false;

  constructor(config: C) {
    this.config = Object.freeze({ ...config });
  }

  /** The (ε, δ) a differentially private fit spent (its resolved `dp` config), or undefined. */
  get privacy(): PrivacyReport | undefined {
    return this.fitted ? privacyFromHyperparameters(this.config as Readonly<Record<string, unknown>>) : undefined;
  }

  async fit(train: Dataset, options: FitOptions = {}): Promise<void> {
    const csr = train.byUser();
    this.nUsers = train.nUsers;
    this.nItems = train.nItems;
    this.seenIndptr = csr.indptr;
    this.seenIndices = csr.indices;
    await this.fitModel(train, options);
    this.fitted = true;
  }

  protected abstract fitModel(train: Dataset, options: FitOptions): Promise<void>;

  abstract scoreAll(user: UserRef, out?: Float32Array): Float32Array;

  /** Model-specific state (typed arrays welcome); the training-seen CSR is saved by the base. */
  protected abstract getState(): Record<string, unknown>;
  protected abstract setState(state: Record<string, unknown>): void;

  score(user: UserRef, candidates: Int32Array): Float32Array {
    const all = this.scoreAll(user);
    const out = new Float32Array(candidates.length);
    for (let c = 0; c < candidates.length; c++) out[c] = all[candidates[c]!]!;
    return out;
  }

  recommend(user: UserRef, k: number, options: RecommendOptions = {}): Ranked {
    this.assertFitted();
    const scores = this.scoreAll(user);
    const mask = new Uint8Array(this.nItems);
    if (options.excludeSeen ?? true) {
      for (const i of this.seenItems(user)) mask[i] = 1;
    }
    if (options.exclude) for (const i of options.exclude) mask[i] = 1;
    return topK(scores, k, mask, options.candidates);
  }

  /** Items the user has in the training data (or in the given state). */
  seenItems(user: UserRef): Int32Array {
    if (typeof user !== 'number') return user.items;
    if (user < 0 || user >= this.nUsers) return new Int32Array(0);
    return this.seenIndices.subarray(this.seenIndptr[user]!, this.seenIndptr[user + 1]!);
  }

  protected assertFitted(): void {
    if (!this.fitted) throw new ModelStateError(`${this.kind}: call fit() before scoring`, 'E_NOT_FITTED');
  }

  toJSON(): SavedModel {
    this.assertFitted();
    return {
      kind: this.kind,
      version: this.version,
      config: this.config,
      state: {
        nUsers: this.nUsers,
        nItems: this.nItems,
        seenIndptr: this.seenIndptr,
        seenIndices: this.seenIndices,
        ...this.getState(),
      },
    };
  }

  /** Restore from `toJSON()` output (called by the registry's loader after version checks). */
  restore(saved: SavedModel): void {
    if (saved.kind !== this.kind) throw new ModelStateError(`saved model is "${saved.kind}", not "${this.kind}"`, 'E_MODEL_KIND');
    if (saved.version !== this.version) {
      throw new ModelStateError(`${this.kind} file format v${saved.version} is not supported (this build reads v${this.version})`, 'E_MODEL_VERSION');
    }
    const s = saved.state as Record<string, unknown>;
    this.nUsers = s.nUsers as number;
    this.nItems = s.nItems as number;
    this.seenIndptr = s.seenIndptr as Int32Array;
    this.seenIndices = s.seenIndices as Int32Array;
    this.setState(s);
    this.fitted = true;
  }
}
