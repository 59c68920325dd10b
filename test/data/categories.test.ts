import { describe, expect, it } from 'vitest';
import { categoryCsr } from '../../src/data/categories.js';
import { datasetFromTriples } from '../../src/data/dataset.js';

describe('categoryCsr', () => {
  it('numbers categories by first appearance, drops "(no genres listed)", keeps items without metadata empty', () => {
    const ds = datasetFromTriples([
      ['u', 'a'],
      ['u', 'b'],
      ['u', 'c'],
      ['u', 'd'],
    ]);
    ds.itemMeta[ds.items.toIndex('a')] = { title: 'A', categories: ['Drama', 'Comedy'] };
    ds.itemMeta[ds.items.toIndex('b')] = { title: 'B', categories: ['(no genres listed)'] };
    ds.itemMeta[ds.items.toIndex('c')] = { title: 'C', categories: ['Comedy', 'Horror'] };
    const c = categoryCsr(ds);
    expect(c.names).toEqual(['Drama', 'Comedy', 'Horror']);
    const of = (id: string): number[] => {
      const i = ds.items.toIndex(id);
      return Array.from(c.indices.subarray(c.indptr[i]!, c.indptr[i + 1]!));
    };
    expect(of('a')).toEqual([0, 1]);
    expect(of('b')).toEqual([]);
    expect(of('c')).toEqual([1, 2]);
    expect(of('d')).toEqual([]);
    expect(c.indptr.length).toBe(ds.nItems + 1);
  });
});
