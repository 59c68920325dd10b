import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CachedEmbedder, EmbeddingCache } from '../../src/embed/cache.js';
import type { Embedder } from '../../src/embed/types.js';

/** An encoder that records what reaches it (the cache is the unit under test). */
class CountingEmbedder implements Embedder {
  readonly dim = 3;
  calls: string[][] = [];
  constructor(readonly id: string) {}
  async embed(texts: readonly string[]): Promise<Float32Array> {
    this.calls.push([...texts]);
    return Float32Array.from(texts.flatMap((t) => [t.length, t.charCodeAt(0) || 0, this.id.length]));
  }
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('EmbeddingCache + CachedEmbedder', () => {
  it('persists across processes: a re-run embeds only new or changed texts', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'chorus-cache-'));
    dirs.push(dir);
    const file = path.join(dir, 'sub', 'embeddings.sqlite');

    const inner1 = new CountingEmbedder('enc-a');
    const c1 = new EmbeddingCache(file);
    const e1 = new CachedEmbedder(inner1, c1);
    const first = await e1.embed(['alpha', 'beta', 'alpha']);
    expect(inner1.calls).toEqual([['alpha', 'beta']]); // duplicate embedded once
    expect(e1.stats).toEqual({ hits: 0, misses: 3 });
    c1.close();

    const inner2 = new CountingEmbedder('enc-a');
    const c2 = new EmbeddingCache(file);
    const e2 = new CachedEmbedder(inner2, c2);
    const second = await e2.embed(['alpha', 'beta', 'gamma (changed)']);
    expect(inner2.calls).toEqual([['gamma (changed)']]);
    expect(e2.stats).toEqual({ hits: 2, misses: 1 });
    expect(Array.from(second.subarray(0, 6))).toEqual(Array.from(first.subarray(0, 6)));
    expect(c2.count('enc-a')).toBe(3);

    // Another encoder id never sees enc-a's vectors.
    const inner3 = new CountingEmbedder('enc-bb');
    const e3 = new CachedEmbedder(inner3, c2);
    await e3.embed(['alpha']);
    expect(e3.stats).toEqual({ hits: 0, misses: 1 });
    expect(inner3.calls).toEqual([['alpha']]);
    c2.close();
  });

  it('an all-hit call does not reach the encoder', async () => {
    const inner = new CountingEmbedder('x');
    const e = new CachedEmbedder(inner, new EmbeddingCache(':memory:'));
    await e.embed(['a', 'b']);
    const again = await e.embed(['b', 'a']);
    expect(inner.calls.length).toBe(1);
    expect(Array.from(again)).toEqual([1, 98, 1, 1, 97, 1]);
    expect(e.stats).toEqual({ hits: 2, misses: 2 });
  });

  it('names the path when the cache cannot be opened', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'chorus-cache-'));
    dirs.push(dir);
    const file = path.join(dir, 'plain-file');
    writeFileSync(file, 'x');
    // A path below a regular file cannot be created.
    expect(() => new EmbeddingCache(path.join(file, 'embeddings.sqlite'))).toThrow(/cannot open the embedding cache at .*plain-file/);
  });
});
