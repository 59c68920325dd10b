/**
 * Dataset snapshots: what `chorus import` writes and other commands read back fast.
 *
 * Binary layout (little-endian): "CHORUSDS" · uint32 version · uint32 header byte length ·
 * header JSON (name, source, event types, id lists, sparse metadata, array table) · padding to
 * 8 bytes · the five interaction arrays, each 8-byte aligned. Loading is one read plus typed
 * array views on it (no parsing per row), and JSON-with-base64 (util/serialize) is not used
 * because a 25 M-row dataset would exceed V8's maximum string length.
 */
import { open, readFile } from 'node:fs/promises';
import { DataError } from '../errors.js';
import { Dataset, IdMap, type DatasetSource, type Interactions, type ItemMeta, type UserMeta } from './dataset.js';
import { parseJsonText } from './json-error.js';

const MAGIC = 'CHORUSDS';
export const SNAPSHOT_VERSION = 1;

type ArrayName = 'user' | 'item' | 'value' | 'timestamp' | 'eventType';
const ARRAYS: readonly { name: ArrayName; type: 'Int32Array' | 'Float32Array' | 'Float64Array' | 'Uint8Array' }[] = [
  { name: 'user', type: 'Int32Array' },
  { name: 'item', type: 'Int32Array' },
  { name: 'value', type: 'Float32Array' },
  { name: 'timestamp', type: 'Float64Array' },
  { name: 'eventType', type: 'Uint8Array' },
];

interface Header {
  version: number;
  name: string;
  source?: DatasetSource;
  eventTypes: string[];
  users: string[];
  items: string[];
  itemMeta: [number, ItemMeta][];
  userMeta: [number, UserMeta][];
  length: number;
  arrays: { name: ArrayName; type: string; offset: number; bytes: number }[];
}

const pad8 = (n: number): number => (n + 7) & ~7;

function sparse<T>(arr: (T | undefined)[]): [number, T][] {
  const out: [number, T][] = [];
  arr.forEach((m, i) => {
    if (m !== undefined) out.push([i, m]);
  });
  return out;
}

/** Write `ds` to `path` as a binary snapshot. */
export async function saveDataset(ds: Dataset, path: string): Promise<void> {
  const it = ds.interactions;
  let offset = 0;
  const arrays = ARRAYS.map(({ name, type }) => {
    const a = it[name];
    const entry = { name, type, offset, bytes: a.byteLength };
    offset = pad8(offset + a.byteLength);
    return entry;
  });
  const header: Header = {
    version: SNAPSHOT_VERSION,
    name: ds.name,
    source: ds.source,
    eventTypes: ds.eventTypes,
    users: ds.users.ids(),
    items: ds.items.ids(),
    itemMeta: sparse(ds.itemMeta),
    userMeta: sparse(ds.userMeta),
    length: it.length,
    arrays,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const pre = Buffer.alloc(16);
  pre.write(MAGIC, 0, 'latin1');
  pre.writeUInt32LE(SNAPSHOT_VERSION, 8);
  pre.writeUInt32LE(headerBytes.length, 12);
  const dataStart = pad8(16 + headerBytes.length);
  const fh = await open(path, 'w');
  try {
    await fh.write(pre, 0, 16, 0);
    await fh.write(headerBytes, 0, headerBytes.length, 16);
    for (const a of arrays) {
      const arr = it[a.name];
      if (a.bytes > 0) await fh.write(Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength), 0, a.bytes, dataStart + a.offset);
    }
    // Make the file length cover the last array's padding, so the layout checks on load hold.
    await fh.truncate(dataStart + offset);
  } finally {
    await fh.close();
  }
}

/** True when the file starts with the snapshot magic. */
export async function isSnapshotFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(8);
    const { bytesRead } = await fh.read(b, 0, 8, 0);
    return bytesRead === 8 && b.toString('latin1') === MAGIC;
  } finally {
    await fh.close();
  }
}

/** Read a snapshot written by `saveDataset`. */
export async function loadDatasetFile(path: string): Promise<Dataset> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError('file not found', { file: path }, 'E_NOT_FOUND');
    throw err;
  }
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== MAGIC) {
    throw new DataError(`not a Chorus dataset snapshot (expected the bytes "${MAGIC}" at the start)`, { file: path });
  }
  const version = buf.readUInt32LE(8);
  if (version !== SNAPSHOT_VERSION) {
    throw new DataError(`snapshot version ${version} is not supported (this Chorus reads version ${SNAPSHOT_VERSION})`, { file: path });
  }
  const hlen = buf.readUInt32LE(12);
  if (16 + hlen > buf.length) throw new DataError('snapshot is truncated (header runs past the end of the file)', { file: path });
  const header = parseJsonText(buf.toString('utf8', 16, 16 + hlen), { file: path, byteOffset: 16 }, { expected: 'snapshot header is not valid JSON' }) as Header;
  const dataStart = pad8(16 + hlen);
  const views: Partial<Record<ArrayName, ArrayBufferView>> = {};
  for (const a of header.arrays) {
    const start = dataStart + a.offset;
    if (start + a.bytes > buf.length) throw new DataError(`snapshot is truncated (array "${a.name}" runs past the end of the file)`, { file: path });
    const spec = ARRAYS.find((x) => x.name === a.name && x.type === a.type);
    if (!spec) throw new DataError(`snapshot has an unknown array "${a.name}" of type ${a.type}`, { file: path });
    // View the file buffer in place when aligned; copy otherwise (small files may sit in Node's shared pool).
    const abs = buf.byteOffset + start;
    const Ctor = { Int32Array, Float32Array, Float64Array, Uint8Array }[spec.type];
    const width = Ctor.BYTES_PER_ELEMENT;
    const count = a.bytes / width;
    if (count !== header.length) throw new DataError(`snapshot array "${a.name}" has ${count} entries, expected ${header.length}`, { file: path });
    if (abs % width === 0) {
      // readFile never returns SharedArrayBuffer-backed Buffers.
      views[a.name] = new Ctor(buf.buffer as ArrayBuffer, abs, count);
    } else {
      const copy = new Uint8Array(a.bytes);
      copy.set(buf.subarray(start, start + a.bytes));
      views[a.name] = new Ctor(copy.buffer, 0, count);
    }
  }
  const interactions: Interactions = {
    length: header.length,
    user: views.user as Int32Array,
    item: views.item as Int32Array,
    value: views.value as Float32Array,
    timestamp: views.timestamp as Float64Array,
    eventType: views.eventType as Uint8Array,
  };
  const itemMeta: (ItemMeta | undefined)[] = new Array(header.items.length);
  for (const [i, m] of header.itemMeta) itemMeta[i] = m;
  const userMeta: (UserMeta | undefined)[] = new Array(header.users.length);
  for (const [i, m] of header.userMeta) userMeta[i] = m;
  return new Dataset({
    name: header.name,
    users: IdMap.from(header.users),
    items: IdMap.from(header.items),
    interactions,
    eventTypes: header.eventTypes,
    itemMeta,
    userMeta,
    source: header.source,
  });
}
