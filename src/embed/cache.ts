import Database from 'better-sqlite3';
import { join } from 'node:path';
import { chorusCacheDir, openCacheDatabase } from '../util/cache-file.js';
import { EmbedError } from './errors.js';
import { textHash } from './text.js';
import type { Embedder } from './types.js';

/**
 * Persistent embedding cache keyed by (encoder id, sha256 of the text).
 *
 * Stored in one SQLite file (better-sqlite3, the project's embedded database) rather than a file
 * per encoder: a re-run appends only the new vectors in one transaction instead of rewriting a
 * whole file, a crash mid-run loses nothing already committed (WAL), several encoders and
 * processes share the file safely, and a lookup touches only the rows it needs.
 */
export class EmbeddingCache {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string, Buffer]>;
  private readonly putStmt: Database.Statement<[string, Buffer, number, Buffer]>;
  private readonly countStmt: Database.Statement<[string]>;

  /** Open (creating if needed) the cache file; ':memory:' for a process-local cache. */
  constructor(path: string = defaultCachePath()) {
    this.path = path;
    try {
      this.db = openCacheDatabase(
        path,
        `CREATE TABLE IF NOT EXISTS embeddings (
           encoder TEXT NOT NULL, hash BLOB NOT NULL, dim INTEGER NOT NULL, vec BLOB NOT NULL,
           PRIMARY KEY (encoder, hash)) WITHOUT ROWID`,
      );
    } catch (err) {
      throw new EmbedError('E_EMBED_CACHE', `cannot open the embedding cache at ${path}: ${(err as Error).message}`, { cause: err, status: 500 });
    }
    this.getStmt = this.db.prepare('SELECT dim, vec FROM embeddings WHERE encoder = ? AND hash = ?');
    this.putStmt = this.db.prepare('INSERT OR REPLACE INTO embeddings (encoder, hash, dim, vec) VALUES (?, ?, ?, ?)');
    this.countStmt = this.db.prepare('SELECT COUNT(*) AS n FROM embeddings WHERE encoder = ?');
  }

  /** The cached vector of `hash` under `encoder`, or undefined. */
  get(encoder: string, hash: Buffer): Float32Array | undefined {
    const row = this.getStmt.get(encoder, hash) as { dim: number; vec: Buffer } | undefined;
    if (!row) return undefined;
    const out = new Float32Array(row.dim);
    new Uint8Array(out.buffer).set(row.vec.subarray(0, row.dim * 4));
    return out;
  }

  /** Store many vectors (rows of `vectors`, `dim` wide) in one transaction. */
  putMany(encoder: string, hashes: readonly Buffer[], vectors: Float32Array, dim: number): void {
    const tx = this.db.transaction(() => {
      for (let r = 0; r < hashes.length; r++) {
        const bytes = Buffer.from(vectors.buffer, vectors.byteOffset + r * dim * 4, dim * 4);
        this.putStmt.run(encoder, hashes[r]!, dim, bytes);
      }
    });
    tx();
  }

  /** Number of vectors cached for an encoder. */
  count(encoder: string): number {
    return (this.countStmt.get(encoder) as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}

/** `$CHORUS_CACHE_DIR/embeddings.sqlite`, else `~/.cache/chorus/embeddings.sqlite`. */
export function defaultCachePath(): string {
  return join(chorusCacheDir(), 'embeddings.sqlite');
}

export interface CacheStats {
  hits: number;
  misses: number;
}

/**
 * An encoder behind the cache: texts already embedded by the same encoder id come from the
 * cache; only new or changed texts reach the encoder (each distinct text once).
 */
export class CachedEmbedder implements Embedder {
  readonly inner: Embedder;
  readonly cache: EmbeddingCache;
  /** Cumulative counts over this object's lifetime (per text, duplicates in a call included). */
  readonly stats: CacheStats = { hits: 0, misses: 0 };

  constructor(inner: Embedder, cache: EmbeddingCache) {
    this.inner = inner;
    this.cache = cache;
  }

  get id(): string {
    return this.inner.id;
  }

  get dim(): number {
    return this.inner.dim;
  }

  async embed(texts: readonly string[]): Promise<Float32Array> {
    const hashes = texts.map(textHash);
    const found: (Float32Array | undefined)[] = hashes.map((h) => this.cache.get(this.inner.id, h));
    const missIndex = new Map<string, number>(); // hash hex -> position among the distinct misses
    const missTexts: string[] = [];
    const missHashes: Buffer[] = [];
    for (let t = 0; t < texts.length; t++) {
      if (found[t]) {
        this.stats.hits++;
        continue;
      }
      this.stats.misses++;
      const key = hashes[t]!.toString('hex');
      if (!missIndex.has(key)) {
        missIndex.set(key, missTexts.length);
        missTexts.push(texts[t]!);
        missHashes.push(hashes[t]!);
      }
    }
    let fresh: Float32Array = new Float32Array(0);
    let dim = this.inner.dim;
    if (missTexts.length > 0) {
      fresh = await this.inner.embed(missTexts);
      dim = fresh.length / missTexts.length;
      this.cache.putMany(this.inner.id, missHashes, fresh, dim);
    } else if (found.length > 0) {
      dim = found[0]!.length;
    }
    const out = new Float32Array(texts.length * dim);
    for (let t = 0; t < texts.length; t++) {
      const v = found[t];
      if (v) {
        if (v.length !== dim) {
          throw new EmbedError('E_EMBED_CACHE', `cached vector for encoder ${this.inner.id} has ${v.length} dims, expected ${dim}`, { status: 500 });
        }
        out.set(v, t * dim);
      } else {
        const m = missIndex.get(hashes[t]!.toString('hex'))!;
        out.set(fresh.subarray(m * dim, (m + 1) * dim), t * dim);
      }
    }
    return out;
  }
}
