/**
 * JSON with typed arrays: every Float32Array/Float64Array/Int32Array/Uint8Array/Uint32Array is
 * written as {"$typed":"Float32Array","b64":"…"} (little-endian bytes), so saved models are one
 * portable JSON document and load back bit-identical.
 */
type TypedName = 'Float32Array' | 'Float64Array' | 'Int32Array' | 'Uint32Array' | 'Uint8Array' | 'Int8Array' | 'Uint16Array' | 'Int16Array';
type AnyTyped = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array | Int8Array | Uint16Array | Int16Array;

const CTORS: Record<TypedName, new (buf: ArrayBuffer) => AnyTyped> = {
  Float32Array,
  Float64Array,
  Int32Array,
  Uint32Array,
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
};

function isTyped(v: unknown): v is AnyTyped {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

export function toJsonValue(v: unknown): unknown {
  if (isTyped(v)) {
    const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return { $typed: v.constructor.name, b64: bytes.toString('base64') };
  }
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v instanceof Map) return { $map: [...v.entries()].map(([k, x]) => [k, toJsonValue(x)]) };
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toJsonValue(x);
    return out;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return { $num: String(v) };
  return v;
}

export function fromJsonValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromJsonValue);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.$typed === 'string' && typeof o.b64 === 'string') {
      const ctor = CTORS[o.$typed as TypedName];
      if (!ctor) throw new Error(`unknown typed array kind ${o.$typed}`);
      const bytes = Buffer.from(o.b64, 'base64');
      // Copy into a fresh, aligned buffer.
      const buf = new ArrayBuffer(bytes.byteLength);
      new Uint8Array(buf).set(bytes);
      return new ctor(buf);
    }
    if (Array.isArray(o.$map)) return new Map((o.$map as [unknown, unknown][]).map(([k, x]) => [k, fromJsonValue(x)]));
    if (typeof o.$num === 'string' && Object.keys(o).length === 1) return Number(o.$num);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) out[k] = fromJsonValue(x);
    return out;
  }
  return v;
}

export function stringify(v: unknown): string {
  return JSON.stringify(toJsonValue(v));
}

export function parse(text: string): unknown {
  return fromJsonValue(JSON.parse(text));
}
