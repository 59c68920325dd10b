import { z } from 'zod';
import { ESTIMATORS } from '../ope/estimators.js';
import { listRegressors } from '../ope/regressors.js';
import { RequestError } from './errors.js';
import { firstSchemaIssue } from '../util/zod-issue.js';

/** Request and response schemas: validation at the edge, and the source of /openapi.json. */

/**
 * Longest id (item, user, event, snapshot, key), in characters. The one cap: the body schemas
 * use it, and the server's path-parameter limit (`maxParamLength`) is derived from it.
 */
export const MAX_ID_LENGTH = 256;
/** Deepest JSON nesting a request body may have (the body itself is level 1). */
export const MAX_JSON_DEPTH = 32;

const Id = z.string().min(1).max(MAX_ID_LENGTH);
const Scalar = z.union([z.string().max(4096), z.number(), z.boolean()]);

export const ItemBody = z.strictObject({
  id: Id,
  title: z.string().max(1024).optional(),
  text: z.string().max(100_000).optional(),
  tags: z.array(z.string().max(256)).max(1000).optional(),
  categories: z.array(z.string().max(256)).max(1000).optional(),
  attributes: z.record(z.string().max(256), Scalar).optional(),
});
export type ItemBody = z.infer<typeof ItemBody>;

export const UserBody = z.strictObject({
  id: Id,
  text: z.string().max(100_000).optional(),
  attributes: z.record(z.string().max(256), Scalar).optional(),
});
export type UserBody = z.infer<typeof UserBody>;

/** PUT bodies: the id comes from the path. */
export const ItemPatch = ItemBody.omit({ id: true });
export const UserPatch = UserBody.omit({ id: true });

export const Entry = z.object({ id: Id, meta: z.record(z.string(), z.unknown()) });
export const EntryList = z.object({ total: z.number().int(), offset: z.number().int(), items: z.array(Entry) });
export const ImportResult = z.object({ imported: z.number().int(), created: z.number().int(), updated: z.number().int() });

export const ListQuery = z.strictObject({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const RecommendBody = z.strictObject({
  user: Id,
  context: z.record(z.string(), z.unknown()).optional(),
  k: z.number().int().min(1).max(100).default(10),
  candidates: z.array(Id).min(1).max(10_000).optional(),
  exclude: z.array(Id).max(10_000).optional(),
  excludeSeen: z.boolean().default(true),
  /**
   * The user's session (an agent policy learns over a session's steps). Without it the engine
   * derives one: a user's session lasts while their requests come less than `sessionIdleSeconds` apart.
   */
  session: Id.optional(),
  /** `text` adds a sentence per item written by the server's chat model (`chorus serve --llm`). */
  explain: z.enum(['structured', 'text']).optional(),
});

/** Per-item explanation: `bandit` with the LinUCB re-ranker, `agent` when an agent policy serves. */
const Explanation = z.object({
  policy: z.string(),
  recommender: z.object({ kind: z.string(), score: z.number().nullable(), normalized: z.number() }),
  bandit: z.object({ mean: z.number(), bonus: z.number(), ucb: z.number(), recommenderWeight: z.number() }).optional(),
  agent: z
    .object({
      name: z.string(),
      score: z.number().nullable(),
      source: z.enum(['agent', 'fill']),
      contributions: z.record(z.string(), z.number()).optional(),
      evidence: z.array(z.object({ agent: z.string(), text: z.string() })).optional(),
    })
    .optional(),
  exploration: z.object({ epsilon: z.number(), explored: z.boolean(), propensity: z.number() }),
});

export const RecommendResponse = z.object({
  eventId: z.string(),
  user: z.string(),
  snapshot: z.string(),
  items: z.array(z.object({ id: z.string(), position: z.number().int(), score: z.number(), propensity: z.number(), explanation: Explanation, explanationText: z.string().optional() })),
  explanationTextError: z.string().optional(),
});

export const FeedbackBody = z.strictObject({
  eventId: Id.optional(),
  user: Id.optional(),
  item: Id,
  type: z.enum(['click', 'purchase', 'rating', 'dwell']),
  value: z.number().finite().optional(),
});

export const FeedbackResponse = z.object({ seq: z.number().int(), reward: z.number(), eventId: z.string().nullable() });

/** Azure Personalizer v1.0 shapes (RankRequest, RankResponse, RewardRequest). */
export const RankBody = z.object({
  contextFeatures: z.array(z.unknown()).max(1000).optional(),
  actions: z
    .array(z.object({ id: Id, features: z.array(z.unknown()).max(1000).optional() }))
    .min(1)
    .max(500),
  excludedActions: z.array(z.string().max(MAX_ID_LENGTH)).max(500).optional(),
  eventId: Id.optional(),
  deferActivation: z.boolean().optional(),
});

export const RankResponse = z.object({
  ranking: z.array(z.object({ id: z.string(), probability: z.number() })),
  eventId: z.string(),
  rewardActionId: z.string().nullable(),
});

export const RewardBody = z.object({ value: z.number().min(-1).max(1) });

export const EventParams = z.object({ eventId: Id });
export const IdParams = z.object({ id: Id });

export const SnapshotMeta = z.object({
  id: z.string(),
  created: z.number(),
  kind: z.string(),
  source: z.string(),
  info: z.record(z.string(), z.unknown()),
});
export const SnapshotList = z.object({ active: z.string(), snapshots: z.array(SnapshotMeta) });

/** Estimators and reward models a snapshot evaluation may name (./snapshot-evaluation.ts). */
const EstimatorName = z.enum(ESTIMATORS);

/**
 * How a snapshot is evaluated against the live decision log (`POST /snapshots/{id}/evaluate`, and
 * the activation gate). Defaults in ./snapshot-evaluation.ts (EVALUATION_DEFAULTS).
 */
const EvaluationFields = {
  estimators: z.array(EstimatorName).min(1).max(ESTIMATORS.length).optional(),
  /** Softening of the candidate's deterministic ranking: (1 − ε)·ranking + ε·uniform. */
  epsilon: z.number().min(0).max(1).optional(),
  /** Only decisions logged at or after this time (unix ms). */
  since: z.number().int().min(0).optional(),
  /** The most recent decisions read (after `since`). */
  limit: z.number().int().min(1).max(1_000_000).optional(),
  rewardModel: z.enum(listRegressors().map((r) => r.name) as [string, ...string[]]).optional(),
  folds: z.number().int().min(2).max(50).optional(),
  bootstrap: z.number().int().min(0).max(100_000).optional(),
  seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
};
export const SnapshotEvaluateBody = z.strictObject(EvaluationFields);
export type SnapshotEvaluateBody = z.infer<typeof SnapshotEvaluateBody>;

/** `gate`: `dr` evaluates first and refuses a snapshot unless DR(its ranking) − DR(the active ranking) has a 95 % lower bound above 0; absent, the server's default. */
const Gate = z.enum(['dr', 'none']);
export const SnapshotActivateBody = z.strictObject({ gate: Gate.optional(), ...EvaluationFields });
export const SnapshotCreate = z.strictObject({
  retrain: z.boolean().default(false),
  activate: z.boolean().default(true),
  /** Gates the activation of a retrained snapshot (a copy of the active model is never gated). */
  gate: Gate.optional(),
  ...EvaluationFields,
});

const EstimateOut = z.object({ value: z.number(), ci95: z.tuple([z.number().nullable(), z.number().nullable()]) });
export const SnapshotEvaluation = z.object({
  snapshot: z.string(),
  active: z.string(),
  /** The candidate's target policy, e.g. `snapshot:<id>+epsilon=0.05`. */
  policy: z.string(),
  epsilon: z.number(),
  /** Usable logged decisions evaluated, and the window they came from (`until`: now − the reward wait; `open`: newer decisions left out, their reward window still open). */
  n: z.number().int(),
  window: z.object({
    decisions: z.number().int(),
    since: z.number().nullable(),
    from: z.number().nullable(),
    to: z.number().nullable(),
    until: z.number(),
    open: z.number().int(),
  }),
  ess: z.number(),
  maxWeight: z.number(),
  loggedMean: z.number(),
  estimates: z.record(z.string(), EstimateOut),
  rewardModel: z.object({ name: z.string(), folds: z.number().int(), seed: z.number().int() }).nullable(),
  bootstrap: z.number().int(),
  seed: z.number().int(),
  /** For information: the active stack's on-policy mean reward, or DR of the active ranking when it logged nothing in the window. */
  activeEstimate: EstimateOut.extend({ how: z.enum(['on-policy', 'dr-of-ranking']), n: z.number().int(), note: z.string() }),
  /** DR of the candidate's and of the active snapshot's ranking (same ε, reward model and resamples) and their difference; passes when the difference's lower bound is > 0. */
  gate: z.object({ estimator: z.literal('dr'), candidate: EstimateOut, active: EstimateOut, difference: EstimateOut, passes: z.boolean() }),
});

/** A refused activation (409): the error, the evaluation that refused it, and the snapshot (stored, not active). */
export const ActivationRefused = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
  snapshot: SnapshotMeta,
  evaluation: SnapshotEvaluation,
});

export const KeyCreate = z.strictObject({ scope: z.enum(['admin', 'client']), name: z.string().min(1).max(128) });
export const KeyCreated = z.object({ id: z.string(), scope: z.string(), name: z.string(), key: z.string() });
export const KeyList = z.array(z.object({ id: z.string(), scope: z.string(), name: z.string(), created: z.number() }));

export const EventsQuery = z.strictObject({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

export const LoggedEvents = z.object({
  events: z.array(
    z.object({
      seq: z.number().int(),
      eventId: z.string(),
      ts: z.number(),
      user: z.string().nullable(),
      kind: z.string(),
      snapshot: z.string().nullable(),
      activated: z.boolean(),
      items: z.array(z.string()),
      propensities: z.array(z.number()),
      scores: z.array(z.number()),
      feedback: z.array(
        z.object({ item: z.string(), position: z.number().int().nullable(), type: z.string(), value: z.number().nullable(), reward: z.number(), ts: z.number() }),
      ),
    }),
  ),
  /** Pass as `after` to get the next page; null at the end of the log. */
  next: z.number().int().nullable(),
});

/** An erasure's audit record: counts only, never a user id. */
export const ErasureRecord = z.object({ id: z.string(), ts: z.number(), counts: z.record(z.string(), z.number()) });
export const ErasureResponse = z.object({ erasure: ErasureRecord });
export const ErasuresQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(10_000).default(100) });
export const ErasureList = z.object({ erasures: z.array(ErasureRecord) });

export const DashboardQuery = z.strictObject({ user: Id.optional(), hours: z.coerce.number().min(0.01).max(24 * 30).default(24) });

export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** The request field at fault (Chorus routes). */
    field: z.string().optional(),
    /** The same, under the Personalizer-compatible routes, with Chorus's own code in innerError. */
    target: z.string().optional(),
    innerError: z.object({ code: z.string() }).optional(),
  }),
});

/** Validate `value` against `schema`, or throw a 400 naming the first bad field. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const { field, message } = firstSchemaIssue(r.error, prefix);
  throw new RequestError(message, field || undefined);
}
