/**
 * Protocol registry: one table from protocol id (../shared/PROTOCOLS.md) to the definition that
 * runs it, so the CLI, benchmarks and library users all go through `runProtocol`.
 *
 * The table starts from the built-in protocols: P1 `ml-ls-t20` (./p1.ts), P2 `ml-ls-cold`
 * (./cold.ts) and the any-data ones (./any-data.ts); other protocols join with `registerProtocol`. Model names come from ./models.ts.
 */
import { ConfigError, UnknownNameError } from '../errors.js';
import { privacyFromHyperparameters, type PrivacyReport } from '../privacy/config.js';
import type { ProgressFn } from '../recommenders/types.js';
import { createEvalModel } from './models.js';
import { ANY_DATA_PROTOCOLS, type DataSummary, type SplitParams } from './any-data.js';
import type { ReadOptions } from '../data/read-interactions.js';
import { P2_PROTOCOL } from './cold.js';
import { P1_PROTOCOL } from './p1.js';
import type { Interval } from './stats.js';
import type { CandidateSpec, PerUserResults } from './ranking.js';
import type { ReportStamp } from './stamp.js';

export interface ProtocolRunOptions {
  /** Protocol id, e.g. "ml-ls-t20". */
  protocol: string;
  /** Variant, e.g. "all" or "pos4" (default: the protocol's first variant). */
  variant?: string;
  /** Model name: a recommender registry name or one added with `registerEvalModel`. */
  model: string;
  /** Hyper-parameters; missing ones take the model's defaults. */
  modelConfig?: Record<string, unknown>;
  /**
   * The protocol's data (default: the protocol's `defaultDataDir`): a folder for P1/P2; for the
   * any-data protocols (t20, random20, last-n, time-cut) any folder, file or snapshot Chorus reads.
   */
  dataDir?: string;
  /** Any-data protocols: read options for the data layer (column mapping, value range, policies). */
  readOptions?: ReadOptions;
  /** Any-data protocols: split parameters (test ratio, last n, time cut). */
  splitParams?: SplitParams;
  seed?: number;
  /** List length (default: the protocol's K). */
  k?: number;
  /** Bootstrap resamples for the 95 % intervals (default 1000; 0 for none). */
  bootstrap?: number;
  /** Sampled-negative evaluation (non-standard; labelled in the result). */
  sampledNegatives?: number;
  /**
   * Which held-out part to score: "test" (default, the protocol's figures) or "validation"
   * (cut from train by the same rule; for tuning hyper-parameters without touching test).
   */
  split?: 'test' | 'validation';
  /** Keep per-user arrays in the result (default true). */
  perUser?: boolean;
  /** Progress of the long phases: "fit" and "evaluate". */
  onProgress?: (phase: 'fit' | 'evaluate', ...args: Parameters<ProgressFn>) => void;
}

/** What `runProtocol` returns and `chorus evaluate --json` prints. */
export interface ProtocolResult {
  protocol: string;
  variant: string;
  model: string;
  k: number;
  seed: number;
  /** Means over evaluated users, keyed `name@K` (ndcg@10, recall@10, …); rmse/mae for rating models. */
  metrics: Record<string, number>;
  /** 95 % bootstrap intervals of the per-user means, keyed like `metrics`. */
  intervals?: Record<string, { lo: number; hi: number }>;
  fitSeconds: number;
  evalSeconds: number;
  /** CPU seconds of the fit and of the evaluation (all threads of the process), beside wall time. */
  fitCpuSeconds: number;
  evalCpuSeconds: number;
  /** Users evaluated. */
  users: number;
  /** Full catalogue (the protocol's rule) or sampled negatives (non-standard). */
  candidates: CandidateSpec;
  hyperparameters: Record<string, unknown>;
  /** Per-user values (omitted with `perUser: false`); `chorus evaluate --json` leaves them out. */
  perUser?: PerUserResults;
  /** External user ids aligned with `perUser.user`. */
  perUserIds?: string[];
  /** Split sizes, so the figures can be checked against PROTOCOLS.md. */
  split: { users: number; items: number; train: number; test: number };
  /** Set when the run departs from the protocol's reference (e.g. other data under P1's rules). */
  note?: string;
  /** Any-data protocols: the dataset's name, hash, size, timestamps, value scale and import drops. */
  data?: DataSummary;
  /** Present when the model trained with differential privacy: the (ε, δ) spent (also in the stamp). */
  privacy?: PrivacyReport;
  stamp: ReportStamp;
}

export interface ProtocolDefinition {
  id: string;
  /** One line for `--help` and tables. */
  title: string;
  variants: readonly string[];
  /** Default data folder, relative to the working directory; none when the user must name the data. */
  defaultDataDir?: string;
  defaultK: number;
  run(options: ProtocolRunOptions & { variant: string; k: number; seed: number }): Promise<ProtocolResult>;
}

/** The built-in protocols: P1, P2 and the any-data ones. A constant, so no import order matters. */
const BUILTIN_PROTOCOLS: readonly ProtocolDefinition[] = [P1_PROTOCOL, P2_PROTOCOL, ...ANY_DATA_PROTOCOLS];

const PROTOCOL_TABLE = new Map<string, ProtocolDefinition>(BUILTIN_PROTOCOLS.map((d) => [d.id, d]));

/** Protocol id → definition (read-only view; add with `registerProtocol`). */
export const PROTOCOLS: ReadonlyMap<string, ProtocolDefinition> = PROTOCOL_TABLE;

/** Add a protocol (a plug-in); a name already taken is an error rather than a silent replacement. */
export function registerProtocol(def: ProtocolDefinition): void {
  if (PROTOCOL_TABLE.has(def.id)) throw new ConfigError(`protocol "${def.id}" is already registered`, 'protocol', 'E_DUPLICATE_NAME');
  PROTOCOL_TABLE.set(def.id, def);
}

export function getProtocol(id: string): ProtocolDefinition {
  const def = PROTOCOL_TABLE.get(id);
  if (!def) throw new UnknownNameError('protocol', id, [...PROTOCOL_TABLE.keys()]);
  return def;
}

/** Run a registered protocol with defaults filled in; the result carries the reporting stamp. */
export async function runProtocol(options: ProtocolRunOptions): Promise<ProtocolResult> {
  const def = getProtocol(options.protocol);
  const variant = options.variant ?? def.variants[0]!;
  if (!def.variants.includes(variant)) throw new UnknownNameError(`variant of ${def.id}`, variant, def.variants);
  // Unknown model names and invalid hyper-parameters fail here, before any data is read.
  createEvalModel(options.model, options.modelConfig ?? {});
  const result = await def.run({ ...options, variant, k: options.k ?? def.defaultK, seed: options.seed ?? 0 });
  // A DP model's fitted config holds the budget it spent (src/privacy/config.ts): every result
  // and stamp of such a run names it.
  const privacy = privacyFromHyperparameters(result.hyperparameters);
  if (privacy) {
    result.privacy = privacy;
    result.stamp.privacy = privacy;
  }
  return result;
}

/** Interval map for the metrics whose per-user values are available. */
export function intervalsOf(entries: Record<string, Interval>): Record<string, { lo: number; hi: number }> {
  const out: Record<string, { lo: number; hi: number }> = {};
  for (const [key, iv] of Object.entries(entries)) out[key] = { lo: iv.lo, hi: iv.hi };
  return out;
}
