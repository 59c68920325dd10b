/**
 * Saved model files: one JSON document (typed arrays as base64, see util/serialize.ts) with a
 * header that says what it is, so a file of the wrong kind, from a newer build, or cut short
 * fails with an error naming the file instead of producing a silently wrong model.
 *
 *   { "format": "chorus-model", "formatVersion": 1, "kind": "itemknn", "kindVersion": 1,
 *     "created": "2026-…Z", "config": {…}, "state": {…} }
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { parseJsonText } from '../data/json-error.js';
import { ChorusError, DataError, ModelStateError } from '../errors.js';
import { fromJsonValue, toJsonValue } from '../util/serialize.js';
import { restoreRecommender } from './registry.js';
import type { Recommender, SavedModel } from './types.js';

export const MODEL_FORMAT = 'chorus-model';
export const MODEL_FORMAT_VERSION = 1;

export interface ModelHeader {
  format: string;
  formatVersion: number;
  kind: string;
  kindVersion: number;
  /** ISO-8601 time the file was written. */
  created: string;
}

/** The file's text for a fitted model (also what the model store keeps as a snapshot). */
export function serializeModel(rec: Recommender, created = new Date()): string {
  const saved = rec.toJSON();
  const header: ModelHeader = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    kind: saved.kind,
    kindVersion: saved.version,
    created: created.toISOString(),
  };
  return JSON.stringify({ ...header, config: toJsonValue(saved.config), state: toJsonValue(saved.state) });
}

/** Read the header of a saved model's text without restoring it. `source` names it in errors. */
export function readModelHeader(text: string, source = '<model>'): ModelHeader & { saved: SavedModel } {
  const doc = parseJsonText(text, { file: source }, { expected: 'not a readable model file', code: 'E_MODEL_CORRUPT' });
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new DataError('not a model file: expected a JSON object', { file: source }, 'E_MODEL_CORRUPT');
  }
  const o = doc as Record<string, unknown>;
  if (o.format !== MODEL_FORMAT) {
    throw new DataError(`not a ${MODEL_FORMAT} file (format is ${JSON.stringify(o.format)})`, { file: source, field: 'format' }, 'E_MODEL_CORRUPT');
  }
  if (o.formatVersion !== MODEL_FORMAT_VERSION) {
    throw new ModelStateError(
      `${source}: ${MODEL_FORMAT} format version ${JSON.stringify(o.formatVersion)} is not supported (this build reads ${MODEL_FORMAT_VERSION})`,
      'E_MODEL_VERSION',
    );
  }
  for (const f of ['kind', 'created'] as const) {
    if (typeof o[f] !== 'string') throw new DataError(`missing or invalid "${f}"`, { file: source, field: f }, 'E_MODEL_CORRUPT');
  }
  if (typeof o.kindVersion !== 'number') throw new DataError('missing or invalid "kindVersion"', { file: source, field: 'kindVersion' }, 'E_MODEL_CORRUPT');
  if (o.state === null || typeof o.state !== 'object') throw new DataError('missing "state"', { file: source, field: 'state' }, 'E_MODEL_CORRUPT');
  let config: unknown;
  let state: unknown;
  try {
    config = fromJsonValue(o.config);
    state = fromJsonValue(o.state);
  } catch (e) {
    throw new DataError(`corrupt model state (${(e as Error).message})`, { file: source, field: 'state' }, 'E_MODEL_CORRUPT');
  }
  return {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    kind: o.kind as string,
    kindVersion: o.kindVersion,
    created: o.created as string,
    saved: { kind: o.kind as string, version: o.kindVersion, config, state },
  };
}

/**
 * Restore a model from a saved model's text. `expectKind`, when given, must match the file's
 * kind. Errors (wrong kind or version, corrupt state) name `source`.
 */
export function deserializeModel(text: string, source = '<model>', expectKind?: string): Recommender {
  const { saved } = readModelHeader(text, source);
  if (expectKind !== undefined && saved.kind !== expectKind) {
    throw new ModelStateError(`${source}: holds a "${saved.kind}" model, not "${expectKind}"`, 'E_MODEL_KIND');
  }
  try {
    return restoreRecommender(saved);
  } catch (e) {
    if (e instanceof DataError) throw new DataError(e.message, { file: source }, e.code);
    if (e instanceof ChorusError) throw new ModelStateError(`${source}: ${e.message}`, e.code);
    // A state that passed the header checks but breaks a model's setState is a corrupt file.
    throw new DataError(`corrupt ${saved.kind} model state (${(e as Error).message})`, { file: source, field: 'state' }, 'E_MODEL_CORRUPT');
  }
}

/** Write a fitted model to `path` (written to a temporary file, then renamed: never half a file). */
export async function saveModel(rec: Recommender, path: string): Promise<void> {
  const text = serializeModel(rec);
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, 'utf8');
  await rename(tmp, path);
}

/** Read a model written by `saveModel`. */
export async function loadModel(path: string, expectKind?: string): Promise<Recommender> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new DataError(`cannot read model file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: path }, 'E_MODEL_READ');
  }
  return deserializeModel(text, path, expectKind);
}
