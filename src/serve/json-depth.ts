/**
 * A cap on how deeply a parsed JSON body nests. JSON.parse itself copes with deep input, but
 * everything after it that walks a value recursively (feature flattening, serialisers, the store)
 * would overflow the stack on a few kilobytes of `[[[[…`; so a body deeper than the cap is
 * refused before any of it runs.
 */

interface Frame {
  value: object;
  depth: number;
  key: string | number | null;
  parent: Frame | null;
}

/** Longest key shown in a reported path (keys may be as long as the body). */
const KEY_SHOWN = 64;

function pathOf(frame: Frame): string {
  const keys: (string | number)[] = [];
  for (let f: Frame | null = frame; f && f.key !== null; f = f.parent) keys.push(f.key);
  let s = '';
  for (const k of keys.reverse()) {
    if (typeof k === 'number') s += `[${k}]`;
    else {
      const name = k.length > KEY_SHOWN ? `${k.slice(0, KEY_SHOWN)}…` : k;
      s += s === '' ? name : `.${name}`;
    }
  }
  return s;
}

/**
 * The dotted path (`context.a[0].b`) of an object or array nested deeper than `max` levels (the
 * value itself is level 1), or null when `value` is within the cap. Iterative, so a value of any
 * depth is checked without recursion; it stops at the first container it finds past the cap.
 */
export function deeperThan(value: unknown, max: number): string | null {
  if (value === null || typeof value !== 'object') return null;
  const stack: Frame[] = [{ value, depth: 1, key: null, parent: null }];
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (f.depth > max) return pathOf(f);
    if (Array.isArray(f.value)) {
      for (let i = 0; i < f.value.length; i++) {
        const v: unknown = f.value[i];
        if (v !== null && typeof v === 'object') stack.push({ value: v, depth: f.depth + 1, key: i, parent: f });
      }
    } else {
      for (const [k, v] of Object.entries(f.value)) {
        if (v !== null && typeof v === 'object') stack.push({ value: v as object, depth: f.depth + 1, key: k, parent: f });
      }
    }
  }
  return null;
}
