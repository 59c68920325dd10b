/**
 * Trend-aware settings shared by popularity and item-kNN: a recent window (`windowDays`: only
 * interactions at most that many days before the newest one count) and a half-life
 * (`halfLifeDays`: an interaction's weight halves every that many days of age). Each is a number
 * of days, 0 for off, or `'auto'`: then the model cuts a validation split from its training data
 * by P1's rule (each user's last 20 % of rows), fits itself on the rest once per grid value,
 * keeps the value with the best validation NDCG@10, and fits on all of its training data with it.
 * Never on test. The chosen value replaces `'auto'` in the model's config, with the field named in
 * `tuned`, so the reporting stamp and a saved model show what was used.
 */
import { z } from 'zod';
import type { Csr, Dataset } from '../data/dataset.js';
import { P1_SPLIT, validationSplit } from '../data/split.js';
import { DataError } from '../errors.js';
import type { ProgressFn, Recommender } from './types.js';
import { validationNdcg, validationUsers } from './validation-ndcg.js';

export const DAY_SECONDS = 86400;
/** Default grid: off, a week, a month, a quarter, a year, three years. */
export const AUTO_GRID_DAYS: readonly number[] = [0, 7, 30, 90, 365, 1095];
/** Cut-off of the validation NDCG the choice maximises. */
export const AUTO_TUNE_K = 10;
/** At most this many validation users score each grid value (a fixed thinning, see validationUsers). */
export const AUTO_TUNE_USERS = 1000;

export const daysSchema = z.union([z.number().min(0), z.literal('auto')]);
export type Days = z.infer<typeof daysSchema>;

export const TIME_FIELDS = ['windowDays', 'halfLifeDays'] as const;
export type TimeField = (typeof TIME_FIELDS)[number];

/** The config fields a trend-aware model adds to its schema. */
export const timeConfigShape = {
  /** Only interactions within this many days of the newest one count; 0 = all; 'auto' = chosen on validation. */
  windowDays: daysSchema,
  /** Weight 2^(−age / half-life) per interaction, in days; 0 = no decay; 'auto' = chosen on validation. */
  halfLifeDays: daysSchema,
  /** The values 'auto' chooses from; ties go to the earlier value (the default starts with 0 = off). */
  autoGridDays: z.union([
    z.array(z.number().min(0)).min(1),
    // `-p autoGridDays=0,30,365` reaches the schema as a string, `-p autoGridDays=30` as a number.
    z
      .string()
      .regex(/^\d+(\.\d+)?(,\d+(\.\d+)?)*$/, 'expected days separated by commas, e.g. "0,30,365"')
      .transform((s) => s.split(',').map(Number)),
    z
      .number()
      .min(0)
      .transform((n) => [n]),
  ]),
  /** Which fields were 'auto' and chosen on a validation split (set by fit; a record, not a switch). */
  tuned: z.array(z.enum(TIME_FIELDS)),
};

export interface TimeConfig {
  windowDays: Days;
  halfLifeDays: Days;
  autoGridDays: number[];
  tuned: TimeField[];
}
export const TIME_DEFAULTS: TimeConfig = { windowDays: 0, halfLifeDays: 0, autoGridDays: [...AUTO_GRID_DAYS], tuned: [] };

/** A config with both time fields fixed to numbers. */
export type Resolved<C extends TimeConfig> = Omit<C, TimeField> & { windowDays: number; halfLifeDays: number };

/** One grid point tried on the validation split. */
export interface TimeTrial {
  windowDays: number;
  halfLifeDays: number;
  ndcg: number;
}

/**
 * Fix the `'auto'` fields of `config` on a validation split of `train` (see the module comment);
 * `make` builds an unfitted model from a fixed config. With both fields 'auto' the grids are
 * searched jointly, one fit per pair. Returns the config to fit with and every trial, in grid order.
 */
export async function resolveTimeConfig<C extends TimeConfig>(
  train: Dataset,
  model: string,
  config: C,
  make: (fixed: Resolved<C>) => Recommender,
  onProgress?: ProgressFn,
): Promise<{ config: Resolved<C>; trials: TimeTrial[] }> {
  const autos = TIME_FIELDS.filter((f) => config[f] === 'auto');
  const fixedTo = (windowDays: number, halfLifeDays: number, tuned: TimeField[]): Resolved<C> => ({ ...config, windowDays, halfLifeDays, tuned });
  if (autos.length === 0) return { config: fixedTo(config.windowDays as number, config.halfLifeDays as number, config.tuned), trials: [] };
  requireTimestamps(train, model, autos[0]!, "'auto'");
  const { train: fitPart, validation } = validationSplit(train, P1_SPLIT);
  const users = validationUsers(validation, AUTO_TUNE_USERS);
  const windows = config.windowDays === 'auto' ? config.autoGridDays : [config.windowDays];
  const halfLives = config.halfLifeDays === 'auto' ? config.autoGridDays : [config.halfLifeDays];
  const trials: TimeTrial[] = [];
  let best: TimeTrial | undefined;
  for (const windowDays of windows) {
    for (const halfLifeDays of halfLives) {
      const candidate = make(fixedTo(windowDays, halfLifeDays, []));
      await candidate.fit(fitPart);
      const trial = { windowDays, halfLifeDays, ndcg: validationNdcg(candidate, fitPart, validation, users, AUTO_TUNE_K) };
      trials.push(trial);
      onProgress?.(trials.length, windows.length * halfLives.length, 'validation fits');
      if (!best || trial.ndcg > best.ndcg) best = trial;
    }
  }
  return { config: fixedTo(best!.windowDays, best!.halfLifeDays, autos), trials };
}

/** Fail with a DataError naming the option and the first interaction without a timestamp. */
export function requireTimestamps(train: Dataset, model: string, field: TimeField, setting = '> 0'): void {
  const ts = train.interactions.timestamp;
  for (let k = 0; k < ts.length; k++) {
    if (!Number.isFinite(ts[k]!)) {
      throw new DataError(`${model} with ${field} ${setting} needs timestamps; interaction ${k} has none`, { file: train.source?.file, field: 'timestamp' });
    }
  }
}

/** The newest timestamp in the data (−Infinity when empty). */
export function newestTimestamp(train: Dataset): number {
  const ts = train.interactions.timestamp;
  let t = -Infinity;
  for (let k = 0; k < ts.length; k++) if (ts[k]! > t) t = ts[k]!;
  return t;
}

/** The newest timestamp of each user (−Infinity for a user without interactions). */
export function newestPerUser(train: Dataset): Float64Array {
  const { user, timestamp } = train.interactions;
  const out = new Float64Array(train.nUsers).fill(-Infinity);
  for (let k = 0; k < user.length; k++) if (timestamp[k]! > out[user[k]!]!) out[user[k]!] = timestamp[k]!;
  return out;
}

/** ln 2 / half-life in seconds: a weight exp(−rate · age) halves every half-life; 0 when off. */
export function decayRate(halfLifeDays: number): number {
  return halfLifeDays > 0 ? Math.LN2 / (halfLifeDays * DAY_SECONDS) : 0;
}

/** The interactions at most `windowDays` days older than the newest one (same id maps). */
export function recentSubset(train: Dataset, windowDays: number): Dataset {
  const ts = train.interactions.timestamp;
  const from = newestTimestamp(train) - windowDays * DAY_SECONDS;
  let n = 0;
  for (let k = 0; k < ts.length; k++) if (ts[k]! >= from) n++;
  const keep = new Int32Array(n);
  for (let k = 0, j = 0; k < ts.length; k++) if (ts[k]! >= from) keep[j++] = k;
  return train.subset(keep, `${train.name}:last${windowDays}d`);
}

/**
 * Multiply each entry of a CSR view of `data` by 2^(−age/half-life), where age is measured back
 * from that entry's user's newest interaction (`newest`, indexed by user). `rowsAreUsers` says
 * whether the CSR is by user (rows = users) or by item (column indices = users).
 */
export function decayByUserAge(csr: Csr, data: Dataset, weights: Float32Array, newest: Float64Array, rate: number, rowsAreUsers: boolean): void {
  const ts = data.interactions.timestamp;
  for (let r = 0; r < csr.rows; r++) {
    for (let p = csr.indptr[r]!; p < csr.indptr[r + 1]!; p++) {
      const u = rowsAreUsers ? r : csr.indices[p]!;
      weights[p] = weights[p]! * Math.exp(-rate * (newest[u]! - ts[csr.order[p]!]!));
    }
  }
}
