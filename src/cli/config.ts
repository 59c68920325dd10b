/**
 * The CLI configuration file (`chorus.config.json`, `.yaml` or `.yml`): found in the working
 * directory or given by `--config`, validated once here against one schema, then handed down as a
 * typed object. Every CLI flag overrides the matching field. An invalid file fails with a
 * ConfigError naming the field (dotted path) and the file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { INTERACTION_FORMATS } from '../data/formats.js';
import { parseJsonText } from '../data/json-error.js';
import { ConfigError } from '../errors.js';
import { firstSchemaIssue } from '../util/zod-issue.js';

/**
 * Hyper-parameters of one model: plain values, checked here so that a wrong type is named with the
 * file's field; the recommender registry checks names and ranges. (A JSON-valued option such as a
 * hybrid's `members` is given with `-p members=[…]`, see `parseParams`.)
 */
const HyperParams = z.record(z.string(), z.union([z.number(), z.string(), z.boolean()]));

/** Sections owned by other commands (embed, simulate, serve) are objects they validate themselves (see `configSection`). */
const OwnedSection = z.record(z.string(), z.unknown());

export const ConfigSchema = z.strictObject({
  /** Editors' schema pointer; ignored. */
  $schema: z.string().optional(),
  /** Default data location for every command: a MovieLens-style folder, an interaction file, or a dataset snapshot. */
  data: z.string().min(1).optional(),
  /** Options for reading interaction files (`chorus import`, and any command given a file). */
  import: z
    .strictObject({
      format: z.enum(['auto', ...INTERACTION_FORMATS] as [string, ...string[]]).optional(),
      delimiter: z.string().min(1).optional(),
      header: z.boolean().optional(),
      columns: z
        .strictObject({
          user: z.union([z.string().min(1), z.number().int().min(0)]).optional(),
          item: z.union([z.string().min(1), z.number().int().min(0)]).optional(),
          value: z.union([z.string().min(1), z.number().int().min(0), z.null()]).optional(),
          timestamp: z.union([z.string().min(1), z.number().int().min(0), z.null()]).optional(),
          eventType: z.union([z.string().min(1), z.number().int().min(0), z.null()]).optional(),
        })
        .optional(),
      strict: z.boolean().optional(),
      duplicates: z.enum(['first', 'last', 'sum', 'keep', 'error']).optional(),
      missingValue: z.enum(['drop', 'mean', 'median', 'constant', 'error']).optional(),
      fillValue: z.number().optional(),
      valueRange: z.tuple([z.number(), z.number()]).optional(),
      outOfRange: z.enum(['drop', 'clamp', 'error']).optional(),
      timestampUnit: z.enum(['s', 'ms']).optional(),
      encoding: z.enum(['utf8', 'latin1']).optional(),
      /** Share of rows (0–1) a read may drop before it warns (default 0.02). */
      dropWarning: z.number().min(0).max(1).optional(),
      /** Where `chorus import` writes the dataset snapshot. */
      out: z.string().min(1).optional(),
    })
    .optional(),
  /** Default model name for train/evaluate. */
  model: z.string().min(1).optional(),
  /** Hyper-parameters per model name, e.g. { "als": { "factors": 64 } }. */
  models: z.record(z.string(), HyperParams).optional(),
  evaluate: z
    .strictObject({
      protocol: z.string().min(1).optional(),
      variant: z.string().min(1).optional(),
      k: z.number().int().min(1).max(1000).optional(),
      seed: z.number().int().min(0).optional(),
      bootstrap: z.number().int().min(0).max(100000).optional(),
      sampledNegatives: z.number().int().min(1).optional(),
    })
    .optional(),
  train: z
    .strictObject({
      out: z.string().min(1).optional(),
      /** Fit on P1's train split only (the default fits on all data). */
      holdout: z.boolean().optional(),
    })
    .optional(),
  recommend: z
    .strictObject({
      k: z.number().int().min(1).max(1000).optional(),
      modelFile: z.string().min(1).optional(),
    })
    .optional(),
  demo: z
    .strictObject({
      models: z.array(z.string().min(1)).min(1).optional(),
      users: z.number().int().min(0).max(50).optional(),
    })
    .optional(),
  embed: OwnedSection.optional(),
  simulate: OwnedSection.optional(),
  serve: OwnedSection.optional(),
});

export type ChorusConfig = z.infer<typeof ConfigSchema>;

export const CONFIG_FILES = ['chorus.config.json', 'chorus.config.yaml', 'chorus.config.yml'] as const;

/** Validate a parsed config object; the first problem becomes a ConfigError naming its field. */
export function validateConfig(raw: unknown, file = 'config'): ChorusConfig {
  const parsed = ConfigSchema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  const issue = firstSchemaIssue(parsed.error);
  const key = issue.unknownKeys[0];
  const field = key === undefined ? issue.field : issue.field ? `${issue.field}.${key}` : key;
  throw new ConfigError(`invalid value in ${file}: ${key === undefined ? issue.message : 'unknown setting'}`, field || '(root)');
}

/** Read and validate the config: `explicit` path if given, else the first CONFIG_FILES entry in `cwd`, else {}. */
export function loadConfig(explicit?: string, cwd = process.cwd()): { config: ChorusConfig; file?: string } {
  let file: string | undefined;
  if (explicit) {
    file = resolve(cwd, explicit);
    if (!existsSync(file)) throw new ConfigError(`config file not found: ${explicit}`, 'config');
  } else {
    file = CONFIG_FILES.map((f) => resolve(cwd, f)).find((f) => existsSync(f));
  }
  if (!file) return { config: {} };
  const text = readFileSync(file, 'utf8');
  let raw: unknown;
  if (!/\.ya?ml$/i.test(file)) raw = parseJsonText(text, { file });
  else {
    try {
      raw = parseYaml(text);
    } catch (err) {
      // yaml's own message names the line and column.
      throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return { config: validateConfig(raw, file), file };
}

/**
 * Validate a section owned by another command (embed, simulate, serve) with that command's own
 * schema, reporting fields as `<section>.<path>`.
 */
export function configSection<T>(config: ChorusConfig, section: 'embed' | 'simulate' | 'serve', schema: z.ZodType<T>): T | undefined {
  const raw = config[section];
  if (raw === undefined) return undefined;
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const { field, message } = firstSchemaIssue(parsed.error, section);
  throw new ConfigError(`invalid value: ${message}`, field);
}

/** One `key=value` hyper-parameter as parsed: a scalar, or a JSON array or object. */
export type ParamValue = number | string | boolean | unknown[] | { [key: string]: unknown };

/**
 * Parse `key=value` flags (`--param factors=32 --param solver=cg`) into hyper-parameters:
 * numbers and booleans are typed; a value that starts with `[` or `{` is JSON (a hybrid's
 * `members=[{"kind":"bpr"},…]`), and one that is not valid JSON fails with the key named;
 * everything else stays a string.
 */
export function parseParams(pairs: readonly string[] | undefined): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigError(`expected key=value, got "${pair}"`, 'param');
    const key = pair.slice(0, eq).trim();
    // Assigning these would change the result object itself instead of adding a parameter.
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw new ConfigError(`"${key}" is not a parameter name`, 'param');
    const v = pair.slice(eq + 1).trim();
    if (v === 'true' || v === 'false') out[key] = v === 'true';
    else if (v !== '' && Number.isFinite(Number(v))) out[key] = Number(v);
    else if (v.startsWith('[') || v.startsWith('{')) {
      try {
        out[key] = JSON.parse(v) as ParamValue;
      } catch (e) {
        throw new ConfigError(`${key}: a value starting with "${v[0]}" is read as JSON, and this is not valid JSON (${(e as Error).message})`, `param.${key}`);
      }
    } else out[key] = v;
  }
  return out;
}

/** Parse an integer flag, naming the flag when it is not one. */
export function intFlag(value: string | undefined, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`expected an integer ≥ ${min}, got "${value}"`, flag);
  return n;
}

/** JSON Schema of the config file (for editors: `"$schema": "./chorus.config.schema.json"`). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, { unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, title: 'Chorus configuration (chorus.config.json / .yaml)' };
}
