import { describe, expect, it } from 'vitest';
import { BuiltinEmbedder } from '../../src/embed/builtin.js';
import { jacobiEigen, randomizedSvd } from '../../src/embed/svd.js';
import { Rng } from '../../src/util/rng.js';

const CORPUS = [
  'Toy Story (1995) | Adventure Animation Children Comedy Fantasy',
  'Toy Story 2 (1999) | Adventure Animation Children Comedy Fantasy',
  'Heat (1995) | Action Crime Thriller',
  'The Godfather (1972) | Crime Drama',
  'The Godfather: Part II (1974) | Crime Drama',
  'Alien (1979) | Horror Sci-Fi',
  'Aliens (1986) | Action Adventure Horror Sci-Fi',
  'Amélie (2001) | Comedy Romance',
  'Pride and Prejudice (2005) | Drama Romance',
  'Star Wars: Episode IV - A New Hope (1977) | Action Adventure Sci-Fi',
  'Star Wars: Episode V - The Empire Strikes Back (1980) | Action Adventure Sci-Fi',
  'Finding Nemo (2003) | Adventure Animation Children Comedy',
];

function cos(v: Float32Array, dim: number, a: number, b: number): number {
  let s = 0;
  for (let m = 0; m < dim; m++) s += v[a * dim + m]! * v[b * dim + m]!;
  return s;
}

describe('BuiltinEmbedder', () => {
  it('is deterministic: same corpus, config and seed give identical vectors and id', async () => {
    const a = BuiltinEmbedder.train(CORPUS, { dim: 8, seed: 7 });
    const b = BuiltinEmbedder.train(CORPUS, { dim: 8, seed: 7 });
    expect(a.id).toBe(b.id);
    expect(Array.from(await a.embed(CORPUS))).toEqual(Array.from(await b.embed(CORPUS)));
    expect(a.id).toMatch(/^builtin:tfidf-svd:v1:[0-9a-f]{16}$/);
  });

  it('serves a repeated training from its recent ones, the same state a fresh training gives', () => {
    const first = BuiltinEmbedder.train(CORPUS, { dim: 8, seed: 11 });
    // A repeat shares the kept state (no second SVD) …
    expect(BuiltinEmbedder.train(CORPUS, { dim: 8, seed: 11 }).toJSON().components).toBe(first.toJSON().components);
    // … but another seed, config or corpus is trained afresh.
    expect(BuiltinEmbedder.train(CORPUS, { dim: 8, seed: 12 }).id).not.toBe(first.id);
    expect(BuiltinEmbedder.train(CORPUS, { dim: 6, seed: 11 }).id).not.toBe(first.id);
    expect(BuiltinEmbedder.train(CORPUS.slice(1), { dim: 8, seed: 11 }).id).not.toBe(first.id);
    // Four other trainings push the first out: training it again computes it anew, bit for bit.
    for (let s = 20; s < 24; s++) BuiltinEmbedder.train(CORPUS, { dim: 4, seed: s });
    const again = BuiltinEmbedder.train(CORPUS, { dim: 8, seed: 11 });
    expect(again.toJSON().components).not.toBe(first.toJSON().components);
    expect(again.id).toBe(first.id);
    expect(again.toJSON().components).toEqual(first.toJSON().components);
  });

  it('does not depend on corpus order', async () => {
    const a = BuiltinEmbedder.train(CORPUS, { dim: 6 });
    const b = BuiltinEmbedder.train([...CORPUS].reverse(), { dim: 6 });
    const va = await a.embed(CORPUS);
    const vb = await b.embed(CORPUS);
    for (let t = 0; t < va.length; t++) expect(vb[t]).toBeCloseTo(va[t]!, 4);
  });

  it('puts similar texts closer than unrelated ones', async () => {
    const e = BuiltinEmbedder.train(CORPUS, { dim: 8 });
    const v = await e.embed(CORPUS);
    const d = e.dim;
    expect(cos(v, d, 0, 1)).toBeGreaterThan(cos(v, d, 0, 2)); // Toy Story 2 vs Heat
    expect(cos(v, d, 3, 4)).toBeGreaterThan(cos(v, d, 3, 7)); // Godfather II vs Amélie
    expect(cos(v, d, 9, 10)).toBeGreaterThan(cos(v, d, 9, 8)); // Star Wars V vs Pride and Prejudice
    // Unit length (so a dot product is a cosine).
    for (let t = 0; t < CORPUS.length; t++) expect(cos(v, d, t, t)).toBeCloseTo(1, 5);
  });

  it('embeds unseen text through the trained vocabulary; unknown words give a zero vector', async () => {
    const e = BuiltinEmbedder.train(CORPUS, { dim: 8 });
    const v = await e.embed(['Toy Story 3 (2010) | Adventure Animation Children Comedy', 'qqqq zzzz', '']);
    expect(Math.hypot(...v.subarray(0, 8))).toBeCloseTo(1, 5);
    expect(Array.from(v.subarray(8, 24)).every((x) => x === 0)).toBe(true);
    const ref = await e.embed([CORPUS[0]!, CORPUS[2]!]);
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, xi, i) => s + xi * y[i]!, 0);
    expect(dot(v.subarray(0, 8), ref.subarray(0, 8))).toBeGreaterThan(dot(v.subarray(0, 8), ref.subarray(8, 16)));
  });

  it('saves and restores to the same vectors', async () => {
    const e = BuiltinEmbedder.train(CORPUS, { dim: 8 });
    const r = BuiltinEmbedder.fromState(structuredClone(e.toJSON()));
    expect(r.id).toBe(e.id);
    expect(Array.from(await r.embed(CORPUS))).toEqual(Array.from(await e.embed(CORPUS)));
  });

  it('rejects an invalid config naming the field', () => {
    expect(() => BuiltinEmbedder.train(CORPUS, { dim: 0 })).toThrow(/embedder\.builtin\.dim/);
  });
});

describe('randomizedSvd', () => {
  it('recovers the singular values of a low-rank sparse matrix', () => {
    // A = sum of two rank-one blocks with known singular values 3 and 1.
    const rows = 6;
    const cols = 5;
    const u1 = [1, 1, 1, 0, 0, 0].map((x) => x / Math.sqrt(3));
    const v1 = [1, 1, 0, 0, 0].map((x) => x / Math.sqrt(2));
    const u2 = [0, 0, 0, 1, 1, 0].map((x) => x / Math.sqrt(2));
    const v2 = [0, 0, 1, 1, 1].map((x) => x / Math.sqrt(3));
    const indptr = new Int32Array(rows + 1);
    const idx: number[] = [];
    const val: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const x = 3 * u1[r]! * v1[c]! + 1 * u2[r]! * v2[c]!;
        if (x !== 0) {
          idx.push(c);
          val.push(x);
        }
      }
      indptr[r + 1] = idx.length;
    }
    const svd = randomizedSvd({ rows, cols, indptr, indices: Int32Array.from(idx), values: Float32Array.from(val) }, 2, new Rng(1));
    expect(svd.singularValues[0]).toBeCloseTo(3, 5);
    expect(svd.singularValues[1]).toBeCloseTo(1, 5);
    // First component ∝ v1 with the sign rule (largest loading positive).
    for (let c = 0; c < cols; c++) expect(svd.components[c * 2]).toBeCloseTo(v1[c]!, 5);
  });

  it('jacobiEigen diagonalises a symmetric matrix', () => {
    const a = Float64Array.from([4, 1, 2, 1, 3, 0, 2, 0, 5]);
    const { values, vectors } = jacobiEigen(a, 3);
    // A v = λ v for each column.
    for (let e = 0; e < 3; e++) {
      for (let i = 0; i < 3; i++) {
        let av = 0;
        for (let j = 0; j < 3; j++) av += a[i * 3 + j]! * vectors[j * 3 + e]!;
        expect(av).toBeCloseTo(values[e]! * vectors[i * 3 + e]!, 9);
      }
    }
    expect([...values].reduce((s, x) => s + x, 0)).toBeCloseTo(12, 9);
  });
});
