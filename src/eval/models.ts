/**
 * Model names an evaluation accepts: the recommender registry's, plus factories added with
 * `registerEvalModel` for models that are not plain recommenders (a multi-agent team wrapped as
 * a `Recommender`, for one). Those register from a layer that may import them (cli/), since
 * eval must not import marl.
 */
import { createRecommender, getRecommenderEntry, listRecommenders } from '../recommenders/registry.js';
import type { Recommender } from '../recommenders/types.js';

export type EvalModelFactory = (config: Record<string, unknown>) => Recommender;

const EXTRA_MODELS = new Map<string, EvalModelFactory>();

export function registerEvalModel(name: string, factory: EvalModelFactory): void {
  EXTRA_MODELS.set(name, factory);
}

/** Every model name `createEvalModel` accepts. */
export function evalModelNames(): string[] {
  return [...listRecommenders().map((r) => r.name), ...EXTRA_MODELS.keys()];
}

/** A new, unfitted model by name: an eval-registered factory first, else the recommender registry. */
export function createEvalModel(name: string, config: Record<string, unknown> = {}): Recommender {
  const factory = EXTRA_MODELS.get(name);
  return factory ? factory(config) : createRecommender(name, config);
}

/** Whether the model's config has a `seed` (then a protocol's seed reaches it). */
export function modelTakesSeed(name: string): boolean {
  if (EXTRA_MODELS.has(name)) return false;
  return Object.prototype.hasOwnProperty.call(getRecommenderEntry(name).defaults, 'seed');
}
