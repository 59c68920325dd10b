/**
 * Raw field → typed value, for both text fields (CSV/TSV) and JSON values. Each parser tells
 * "missing" apart from "unparsable", because the cleaning policies treat them differently.
 */

/** External id from a raw field: string (trimmed), finite number → string, empty → null, other → undefined. */
export function idString(raw: unknown): string | null | undefined {
  if (typeof raw === 'string') {
    const n = raw.length;
    const s = n > 0 && (raw.charCodeAt(0) <= 32 || raw.charCodeAt(n - 1) <= 32) ? raw.trim() : raw;
    return s === '' ? null : s;
  }
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  if (raw === null || raw === undefined) return null;
  return undefined;
}

/** Number from a raw field; NaN for empty or unparsable (see `isEmptyField` to tell them apart). */
export function numberOf(raw: unknown): number {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : NaN;
  if (typeof raw !== 'string' || raw.length === 0) return NaN;
  const v = Number(raw);
  return Number.isFinite(v) && raw.trim() !== '' ? v : NaN;
}

/** An absent, null or blank field. */
export function isEmptyField(raw: unknown): boolean {
  return raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '');
}

/** null = missing; value NaN = unparsable; numeric = it was a number (the timestamp unit applies). */
export function parseTimestamp(raw: unknown): { value: number; numeric: boolean } | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw === 'number') return { value: Number.isFinite(raw) ? raw : NaN, numeric: true };
  if (typeof raw !== 'string') return { value: NaN, numeric: false };
  const s = raw.trim();
  if (s === '') return null;
  const v = Number(s);
  if (Number.isFinite(v)) return { value: v, numeric: true };
  const d = Date.parse(s);
  return { value: Number.isNaN(d) ? NaN : d / 1000, numeric: false };
}
