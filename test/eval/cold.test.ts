import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dataset, datasetFromTriples } from '../../src/data/dataset.js';
import { coldItemSplit, evaluateCold, P2_ID, withItemText } from '../../src/eval/cold.js';
import { PROTOCOLS, runProtocol } from '../../src/eval/protocol.js';
import { PopularityGenre } from '../../src/recommenders/popularity-genre.js';

/** 30 items × 12 users; item j has between 1 and 12 ratings. */
function synthetic(): Dataset {
  const triples: [string, string, number, number][] = [];
  let t = 0;
  for (let j = 0; j < 30; j++) for (let u = 0; u < 1 + (j % 12); u++) triples.push([`u${u}`, `${100 + j}`, 1, t++]);
  return datasetFromTriples(triples);
}

describe('P2 cold-item split', () => {
  it('holds out 10 % of the items with ≥ 5 ratings, all their interactions, deterministically', () => {
    const ds = synthetic();
    const counts = ds.itemCounts();
    const eligible = Array.from(counts).filter((c) => c >= 5).length;
    const a = coldItemSplit(ds);
    const b = coldItemSplit(ds);
    expect(Array.from(a.coldItems)).toEqual(Array.from(b.coldItems));
    expect(a.eligible).toBe(eligible);
    expect(a.coldItems.length).toBe(Math.floor(0.1 * eligible));
    const cold = new Set(a.coldItems);
    for (const i of a.coldItems) expect(counts[i]!).toBeGreaterThanOrEqual(5);
    for (const i of a.train.interactions.item) expect(cold.has(i)).toBe(false);
    for (const i of a.test.interactions.item) expect(cold.has(i)).toBe(true);
    let coldRows = 0;
    for (const i of a.coldItems) coldRows += counts[i]!;
    expect(a.test.nInteractions).toBe(coldRows);
    // Another seed draws other items.
    expect(Array.from(coldItemSplit(ds, 7).coldItems)).not.toEqual(Array.from(a.coldItems));
  });

  it('ranks only cold items', async () => {
    const ds = synthetic();
    const s = coldItemSplit(ds, 42, 0.5);
    const m = new PopularityGenre();
    await m.fit(s.train);
    const r = evaluateCold(m, s.train, s.test, s.coldItems, 3);
    expect(r.users).toBeGreaterThan(0);
    // With K ≥ number of cold items every test item is found: recall 1.
    const all = evaluateCold(m, s.train, s.test, s.coldItems, s.coldItems.length);
    expect(all.metrics[`recall@${s.coldItems.length}`]).toBeCloseTo(1, 12);
  });

  it('item text: tags only in the tags variant', () => {
    const ds = datasetFromTriples([['u', 'm', 1, 0]]);
    ds.itemMeta[0] = { title: 'Heat (1995)', categories: ['Action'], text: 'Heat (1995). Genres: Action.', tags: ['Pacino'] };
    expect(withItemText(ds, 'title-genres').itemMeta[0]).toMatchObject({ text: 'Heat (1995). Genres: Action.' });
    expect(withItemText(ds, 'title-genres').itemMeta[0]!.tags).toBeUndefined();
    expect(withItemText(ds, 'tags').itemMeta[0]!.text).toBe('Heat (1995). Genres: Action. Tags: Pacino.');
  });
});

const ML = path.resolve(process.cwd(), '../shared/datasets/ml-latest-small');

describe('ml-ls-cold on ml-latest-small', () => {
  it('is registered and prints the P1-shaped result for popularity-genre', async () => {
    expect(PROTOCOLS.has(P2_ID)).toBe(true);
    const r = await runProtocol({ protocol: P2_ID, model: 'popularity-genre', dataDir: ML, bootstrap: 0, perUser: false });
    expect(r.protocol).toBe('ml-ls-cold');
    expect(r.variant).toBe('title-genres');
    expect(r.candidates).toEqual({ mode: 'full', catalogueSize: 365 }); // 10 % of 3,650 items with ≥ 5 ratings
    expect(r.split.train + r.split.test).toBeLessThan(100_836);
    expect(r.users).toBeGreaterThan(500);
    expect(r.metrics['recall@10']).toBeGreaterThan(0);
    expect(r.metrics['recall@10']).toBeLessThan(1);
    expect(r.stamp.seeds[0]).toBe(42);
    // The validation form redraws cold items inside P2's train (seed 43), never touching the test items.
    const v = await runProtocol({ protocol: P2_ID, model: 'popularity-genre', dataDir: ML, bootstrap: 0, perUser: false, split: 'validation' });
    expect(v.protocol).toBe('ml-ls-cold/validation');
    expect(v.split.train + v.split.test).toBeLessThan(r.split.train); // drawn from P2's train only
    expect(v.split.test).toBeGreaterThan(0);
    expect(v.candidates.catalogueSize).toBeGreaterThan(0);
  });
});
