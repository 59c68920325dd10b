/**
 * The `dp` option of the models that have a differentially private path, and the budget report
 * they expose after a fit. A budget is given as a target ε (the noise is chosen to meet it) or as
 * a noise multiplier (ε is then computed); δ defaults to 1/n, n = the protected units (training
 * users by default).
 *
 * After a fit the model's `config.dp` holds the values actually used — δ filled in, the noise
 * multiplier chosen and ε the budget spent (never above the target) — so the reporting stamp,
 * which prints the config, names them, and refitting from a saved config reproduces the release.
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';

const budgetShape = {
  /** Target ε (> 0). After a fit: the ε spent. */
  epsilon: z.number().positive().optional(),
  /** δ in (0, 1); default 1/n with n the number of protected units (training users, or interactions). */
  delta: z.number().gt(0).lt(1).optional(),
  /** Noise standard deviation over the L2 sensitivity; when given, ε is computed from it (and must not exceed a given epsilon). */
  noiseMultiplier: z.number().positive().optional(),
  /** Seed of the noise and of the contribution sampling. */
  seed: z.number().int().default(0),
};

const needsBudget = (d: { epsilon?: number; noiseMultiplier?: number }): boolean => d.epsilon !== undefined || d.noiseMultiplier !== undefined;
const needsBudgetMessage = { message: 'dp needs epsilon (a target budget) or noiseMultiplier' };

/** `dp` of popularity, item-kNN and EASE: Gaussian noise on user-bounded counts (dp-counts.ts). */
export const dpCountsConfigSchema = z
  .strictObject({
    ...budgetShape,
    /** Each user counts for at most this many distinct items (a seeded random subset beyond it). */
    maxItemsPerUser: z.number().int().positive().default(100),
  })
  .refine(needsBudget, needsBudgetMessage);
export type DpCountsConfig = z.infer<typeof dpCountsConfigSchema>;

/**
 * Defaults of DP-SGD's schedule when the protected unit is one interaction (`unit:
 * 'interaction'`), where the user-level defaults below would waste the budget: with ~10⁵ units
 * instead of ~10³ a step's batch is large at a small rate, and many more steps fit the same ε.
 * Chosen for BPR (64 factors) at ε = 8 on P1's validation split (docs/privacy.md, "Interaction-level").
 */
export const INTERACTION_DP_DEFAULTS = { sampleRate: 0.1, steps: 800, learningRate: 8 } as const;

/** `dp` of MF and BPR: DP-SGD on the item parameters (dp-sgd.ts), protecting a user (default) or one interaction. */
export const dpSgdConfigSchema = z.preprocess(
  // The schedule's defaults depend on the unit: fill the interaction ones before the object's own (user-level) defaults apply.
  (v) => (v !== null && typeof v === 'object' && (v as { unit?: unknown }).unit === 'interaction' ? { ...INTERACTION_DP_DEFAULTS, ...v } : v),
  z
    .strictObject({
      ...budgetShape,
      /**
       * What one unit of privacy is. `user` (default): add or remove a user with all their
       * interactions — every step samples users and clips each user's whole gradient. `interaction`:
       * add or remove one interaction (event-level DP) — every step samples interactions and clips
       * each one's gradient; a user with m interactions is protected at about m·ε (group privacy),
       * far weaker, but it is the guarantee many published DP recommenders report (rating-level DP).
       */
      unit: z.enum(['user', 'interaction']).default('user'),
      /** L2 bound on each unit's gradient of the item parameters, per step. */
      clip: z.number().positive().default(1),
      /**
       * Poisson sampling rate: each unit joins each step's batch with this probability. The
       * user-level defaults of rate, steps and learning rate were the best of those tried for BPR
       * (64 factors) at ε = 8 on P1's validation split: NDCG@10 0.0883 against 0.0852 for 0.3, 200
       * steps, rate 1. Interaction-level defaults: INTERACTION_DP_DEFAULTS.
       */
      sampleRate: z.number().gt(0).max(1).default(0.6),
      steps: z.number().int().positive().default(100),
      /** Learning rate of the item parameters (on the noisy mean gradient of a step). */
      learningRate: z.number().positive().default(2),
      /** Shrinks the item parameters by this share every step (public: it touches every row alike). */
      weightDecay: z.number().min(0).lt(1).default(0),
      /** User-level: training pairs (BPR) or ratings (MF) drawn from a user per visit. */
      maxItemsPerUser: z.number().int().positive().default(100),
    })
    .refine(needsBudget, needsBudgetMessage),
);
export type DpSgdConfig = z.output<typeof dpSgdConfigSchema>;

/** The budget a DP model spent, what it protects and how (the `privacy` field of stamps and `--json`). */
export interface PrivacyReport {
  epsilon: number;
  delta: number;
  /**
   * The protected unit: a user with all their interactions (add/remove one user); `session` for
   * an agent trained on a log that names no users (each logged session is a unit); `interaction`
   * for one event (DP-SGD with `unit: 'interaction'`).
   */
  unit: 'user' | 'session' | 'interaction';
  mechanism: 'gaussian' | 'dp-sgd';
  /** Noise standard deviation over the L2 sensitivity (per release or per step). */
  noiseMultiplier: number;
}

/** δ for a fit: the configured one, else 1/n. */
export function resolveDelta(delta: number | undefined, nUsers: number, model: string): number {
  if (delta !== undefined) return delta;
  if (nUsers < 2) throw new ConfigError(`${model}: dp needs δ when training has fewer than 2 protected units (default δ = 1/n)`, 'dp.delta');
  return 1 / nUsers;
}

/** ε spent ≤ target: a noise multiplier given together with a smaller target is an error, not a silent overspend. */
export function checkSpent(model: string, spent: number, target: number | undefined): void {
  if (target !== undefined && spent > target * (1 + 1e-9)) {
    throw new ConfigError(`${model}: dp.noiseMultiplier spends ε = ${spent.toPrecision(4)}, above dp.epsilon = ${target}`, 'dp.noiseMultiplier');
  }
}

/**
 * The report from a fitted model's hyper-parameters (its resolved `dp`), or undefined when the
 * model ran without DP. DP-SGD configs are told apart by their `steps`.
 */
export function privacyFromHyperparameters(hp: Readonly<Record<string, unknown>>): PrivacyReport | undefined {
  const dp = hp.dp;
  if (dp === null || typeof dp !== 'object') return undefined;
  const d = dp as Record<string, unknown>;
  if (typeof d.epsilon !== 'number' || typeof d.delta !== 'number' || typeof d.noiseMultiplier !== 'number') return undefined;
  const unit = d.unit === 'interaction' ? 'interaction' : 'user';
  return { epsilon: d.epsilon, delta: d.delta, unit, mechanism: 'steps' in d ? 'dp-sgd' : 'gaussian', noiseMultiplier: d.noiseMultiplier };
}

/**
 * A `dp` option with its defaults filled in. The registry validates configs already; this covers
 * models constructed directly (`new Bpr({ dp: { epsilon: 8 } })`), naming the field on error.
 */
export function parseDp<S extends z.ZodType>(schema: S, value: unknown, model: string): z.output<S> {
  const res = schema.safeParse(value);
  if (res.success) return res.data;
  const issue = res.error.issues[0]!;
  const field = ['dp', ...issue.path.map(String)].join('.');
  throw new ConfigError(`${model}: ${issue.message}`, field);
}

/**
 * Refuse, naming the field, options whose DP release would need a sensitivity analysis of its own
 * (`why` says what the DP path does instead). Each entry: field, its value, whether it is refused.
 */
export function refuseWithDp(model: string, options: readonly (readonly [string, unknown, boolean])[], why: string): void {
  for (const [field, value, refused] of options) {
    if (refused) throw new ConfigError(`${model}: ${field} = ${JSON.stringify(value)} is not supported together with dp (${why})`, field);
  }
}

/** Why the count models refuse their other options with `dp`. */
export const PLAIN_COUNTS = 'the DP path releases plain user counts';
