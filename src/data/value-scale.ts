/**
 * The value scale of an interaction file: declared by the caller (`valueRange`), or read from the
 * data. Reading it from the data is what lets a MovieLens-format folder rated 0–10 keep its 6–10
 * ratings: the observed values are snapped to the tightest usual rating scale that holds them
 * (the format's own scale first), and when none does (play counts, weights) the observed range is
 * the scale.
 */
import type { ValueScale } from './report.js';

/** Usual rating scales, tightest first. 0–1 also covers normalised scores, which are not on a grid. */
export const STANDARD_SCALES: readonly (readonly [number, number])[] = [
  [0, 1],
  [1, 5],
  [0.5, 5],
  [0, 5],
  [1, 10],
  [0, 10],
  [0, 100],
];

/** Smallest and largest value, and whether every value is a whole or half number (star ratings). */
export interface ObservedValues {
  min: number;
  max: number;
  onHalfGrid: boolean;
}

export function observeValues(values: Float32Array): ObservedValues {
  let min = Infinity;
  let max = -Infinity;
  let onHalfGrid = true;
  for (let k = 0; k < values.length; k++) {
    const v = values[k]!;
    if (v < min) min = v;
    if (v > max) max = v;
    if (onHalfGrid && !Number.isInteger(v * 2)) onHalfGrid = false;
  }
  return values.length === 0 ? { min: NaN, max: NaN, onHalfGrid } : { min: shortest(min), max: shortest(max), onHalfGrid };
}

/** A float32 value as the shortest decimal that rounds to it (2.7, not 2.700000047683716). */
function shortest(v: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const d = Number(v.toPrecision(digits));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

/**
 * The scale for `observed` values: `declared` when given; else the first of the format's own
 * scale and `STANDARD_SCALES` that holds them (values on a half-star grid, or any values for 0–1);
 * else the observed range.
 */
export function valueScale(observed: ObservedValues, declared?: readonly [number, number], formatScale?: readonly [number, number]): ValueScale {
  const { min, max } = observed;
  if (declared) return { lo: declared[0], hi: declared[1], source: 'declared', min, max };
  if (Number.isNaN(min)) return { lo: NaN, hi: NaN, source: 'observed', min, max };
  const candidates = formatScale ? [formatScale, ...STANDARD_SCALES] : STANDARD_SCALES;
  for (const [lo, hi] of candidates) {
    const fits = min >= lo && max <= hi && (observed.onHalfGrid || (lo === 0 && hi === 1));
    if (fits) return { lo, hi, source: 'standard', min, max };
  }
  return { lo: min, hi: max, source: 'observed', min, max };
}

/** [lo, hi] when the scale is a rating scale one can threshold (declared or standard). */
export function ratingRange(scale: ValueScale): [number, number] | undefined {
  return scale.source === 'observed' ? undefined : [scale.lo, scale.hi];
}
