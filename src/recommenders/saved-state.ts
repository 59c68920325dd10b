/**
 * Checked access to a saved model's state: a file that decodes but holds the wrong array type or
 * length must fail on load, naming the field, not later as NaN scores.
 */
import { DataError } from '../errors.js';

type TypedCtor<T> = { new (n: number): T; readonly name: string };

export function typedField<T extends ArrayBufferView & { length: number }>(
  state: Record<string, unknown>,
  key: string,
  ctor: TypedCtor<T>,
  length?: number,
): T {
  const v = state[key];
  if (!(v instanceof (ctor as unknown as new (n: number) => T))) {
    throw new DataError(`expected ${ctor.name}`, { field: `state.${key}` }, 'E_MODEL_CORRUPT');
  }
  if (length !== undefined && v.length !== length) {
    throw new DataError(`expected ${length} entries, found ${v.length}`, { field: `state.${key}` }, 'E_MODEL_CORRUPT');
  }
  return v;
}

export function numberField(state: Record<string, unknown>, key: string): number {
  const v = state[key];
  if (typeof v !== 'number' || Number.isNaN(v)) throw new DataError('expected a number', { field: `state.${key}` }, 'E_MODEL_CORRUPT');
  return v;
}
