import type { Dataset } from '../data/dataset.js';

/** A ranked list: item indices with their scores, best first. */
export interface Ranked {
  items: Int32Array;
  scores: Float32Array;
}

export interface RecommendOptions {
  /** Drop the items the user already has in the training data (default true). */
  excludeSeen?: boolean;
  /** Only rank these item indices. */
  candidates?: Int32Array;
  /** Never return these item indices. */
  exclude?: Int32Array;
}

/**
 * A user's state when the user is not (or not only) a row of the training data: the items they
 * have interacted with, most recent last. Used for new users and sessions.
 */
export interface UserState {
  items: Int32Array;
  values?: Float32Array;
}

export type UserRef = number | UserState;

/** Progress callback for long fits: units done, units total, what the unit is. */
export type ProgressFn = (done: number, total: number, unit: string) => void;

export interface FitOptions {
  /** Called as fitting advances; the CLI renders it as a progress bar on a TTY. */
  onProgress?: ProgressFn;
}

/** What a saved model file holds; `version` is the file format version of that model kind. */
export interface SavedModel {
  kind: string;
  version: number;
  config: unknown;
  /** Typed arrays are stored by the serialiser as base64 with their element type. */
  state: unknown;
}

export interface Recommender {
  /** Registry name, e.g. "als". */
  readonly kind: string;
  /** Hyper-parameters (what the reporting stamp prints). */
  readonly config: Readonly<Record<string, unknown>>;
  fit(train: Dataset, options?: FitOptions): Promise<void>;
  /** Scores for `candidates` (item indices) in the same order; higher is better. */
  score(user: UserRef, candidates: Int32Array): Float32Array;
  /** Scores for every item index 0..nItems-1 (the fast path for full-catalogue evaluation). */
  scoreAll(user: UserRef, out?: Float32Array): Float32Array;
  /** Top-k items for the user, best first. */
  recommend(user: UserRef, k: number, options?: RecommendOptions): Ranked;
  /** Model state for persistence (see `saveModel` / `loadModel` in ./persist.ts). */
  toJSON(): SavedModel;
}
