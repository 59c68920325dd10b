/**
 * `--dp-epsilon` / `--dp-delta`: train the model with differential privacy at a target budget
 * (docs/privacy.md). The flags become the model's `dp` option; the model picks its noise for the
 * budget and reports what it spent (the `privacy` field of the stamp and of `--json`). Only models
 * with a DP path take them: a model has one when its config schema accepts `dp`.
 */
import type { Command } from 'commander';
import { ConfigError } from '../errors.js';
import { getRecommenderEntry, listRecommenders } from '../recommenders/registry.js';

export interface PrivacyFlags {
  dpEpsilon?: string;
  dpDelta?: string;
  dpUnit?: string;
}

export interface PrivacyOptions {
  epsilon: number;
  /** Absent: the model uses 1/n, n = its protected units (training users by default). */
  delta?: number;
  /** Absent: a user. `interaction`: one interaction (MF and BPR only). */
  unit?: 'user' | 'interaction';
}

/** Models whose DP-SGD can protect a single interaction (`dp.unit`); the count models protect users only. */
const INTERACTION_UNIT_MODELS = ['bpr', 'mf'];

export function addPrivacyFlags(cmd: Command): Command {
  return cmd
    .option('--dp-epsilon <ε>', `train with differential privacy at this budget ε > 0 (models: ${dpModels().join(', ')}; docs/privacy.md)`)
    .option('--dp-delta <δ>', 'δ of the privacy budget, 0 < δ < 1 (default 1/n, n = the protected units: training users, or interactions)')
    .option('--dp-unit <unit>', `what the budget protects: user (default: a user with all their interactions) or interaction (one event; ${INTERACTION_UNIT_MODELS.join(' and ')} only, a much weaker guarantee)`);
}

/** The validated flags, or undefined when neither is given. */
export function privacyOptions(flags: PrivacyFlags): PrivacyOptions | undefined {
  if (flags.dpEpsilon === undefined) {
    if (flags.dpDelta !== undefined) throw new ConfigError('--dp-delta needs --dp-epsilon (the budget it belongs to)', 'dp-delta');
    if (flags.dpUnit !== undefined) throw new ConfigError('--dp-unit needs --dp-epsilon (the budget it belongs to)', 'dp-unit');
    return undefined;
  }
  if (flags.dpUnit !== undefined && flags.dpUnit !== 'user' && flags.dpUnit !== 'interaction') {
    throw new ConfigError(`expected user or interaction, got "${flags.dpUnit}"`, 'dp-unit');
  }
  const unit = flags.dpUnit === 'interaction' ? { unit: 'interaction' as const } : {};
  const epsilon = Number(flags.dpEpsilon);
  if (!(flags.dpEpsilon.trim() !== '' && Number.isFinite(epsilon) && epsilon > 0)) {
    throw new ConfigError(`expected a number > 0, got "${flags.dpEpsilon}"`, 'dp-epsilon');
  }
  if (flags.dpDelta === undefined) return { epsilon, ...unit };
  const delta = Number(flags.dpDelta);
  if (!(flags.dpDelta.trim() !== '' && delta > 0 && delta < 1)) throw new ConfigError(`expected a number between 0 and 1 (exclusive), got "${flags.dpDelta}"`, 'dp-delta');
  return { epsilon, delta, ...unit };
}

/** Whether the registry model `name` has a DP path (its schema takes a `dp` option). */
export function hasDpPath(name: string): boolean {
  const known = listRecommenders().some((r) => r.name === name);
  if (!known) return false;
  const entry = getRecommenderEntry(name);
  return entry.schema.safeParse({ ...entry.defaults, dp: { epsilon: 1 } }).success;
}

/** Names of the models with a DP path, in registry order. */
export function dpModels(): string[] {
  return listRecommenders()
    .map((r) => r.name)
    .filter(hasDpPath);
}

/** The model config with the flags' budget as its `dp` option (other `dp` fields from the config kept); refuses models without a DP path. */
export function withPrivacy(model: string, config: Record<string, unknown>, p: PrivacyOptions): Record<string, unknown> {
  if (!hasDpPath(model)) {
    throw new ConfigError(`model "${model}" has no differentially private path; models with one: ${dpModels().join(', ')}`, 'dp-epsilon');
  }
  if (p.unit === 'interaction' && !INTERACTION_UNIT_MODELS.includes(model)) {
    throw new ConfigError(`model "${model}" protects users only; --dp-unit interaction is for ${INTERACTION_UNIT_MODELS.join(' and ')}`, 'dp-unit');
  }
  const given = config.dp !== null && typeof config.dp === 'object' ? (config.dp as Record<string, unknown>) : {};
  const dp: Record<string, unknown> = { ...given, epsilon: p.epsilon };
  if (p.delta !== undefined) dp.delta = p.delta;
  if (p.unit !== undefined) dp.unit = p.unit;
  // A noise multiplier from the config would override the flag's target; the flag wins.
  delete dp.noiseMultiplier;
  return { ...config, dp };
}
