import { describe, expect, it } from 'vitest';
import { buildRow, CONSTANT_HASH, hashName, hashPair, namespacesOf, parseInteractions, singleFeature } from '../../src/serve/namespaces.js';

// The context of Azure Personalizer's documentation ("Features: Action and context", JSON
// example), with an indexed vector added to the user namespace.
const PERSONALIZER_CONTEXT = [
  { user: { profileType: 'AnonymousUser', latLong: ['47.6', '-122.1'], embedding: [0.25, -1, 3] } },
  { environment: { dayOfMonth: '28', monthOfYear: '8', timeOfDay: '13:00', weather: 'sunny' } },
  { device: { mobile: true, Windows: true } },
  { recentActivity: { itemsInCart: 3, cartValue: 250, appointmentScheduled: false } },
];

describe('namespace features (Personalizer / Vowpal Wabbit)', () => {
  it('turns each top-level key into a namespace with categorical, numeric and indexed features', () => {
    const ns = namespacesOf(PERSONALIZER_CONTEXT);
    expect(ns.map((n) => n.name)).toEqual(['user', 'environment', 'device', 'recentActivity']);
    const byName = Object.fromEntries(ns.map((n) => [n.name, n.names.map((x, i) => [x, n.values[i]])]));
    expect(byName.user).toEqual([
      ['profileType=AnonymousUser', 1],
      ['latLong=47.6', 1],
      ['latLong=-122.1', 1],
      ['embedding[0]', 0.25],
      ['embedding[1]', -1],
      ['embedding[2]', 3],
    ]);
    expect(byName.environment).toEqual([
      ['dayOfMonth=28', 1],
      ['monthOfYear=8', 1],
      ['timeOfDay=13:00', 1],
      ['weather=sunny', 1],
    ]);
    expect(byName.device).toEqual([
      ['mobile=true', 1],
      ['Windows=true', 1],
    ]);
    expect(byName.recentActivity).toEqual([
      ['itemsInCart', 3],
      ['cartValue', 250],
      ['appointmentScheduled=false', 1],
    ]);
    // Each feature's hash is seeded by its namespace's hash: the same name in two namespaces differs.
    for (const n of ns) n.names.forEach((x, i) => expect(n.hashes[i]).toBe(hashName(x, hashName(n.name))));
    expect(hashName('mobile=true', hashName('device'))).not.toBe(hashName('mobile=true', hashName('user')));
  });

  it('keeps position for arrays of numbers and nests objects with dotted paths', () => {
    const [a] = namespacesOf({ item: { vec: [1, 2], meta: { size: 'L', dims: { w: 2 } } } });
    expect(a!.names).toEqual(['vec[0]', 'vec[1]', 'meta.size=L', 'meta.dims.w']);
    const [b] = namespacesOf({ item: { vec: [2, 1] } });
    // Swapping the values changes the row: position is part of the feature.
    expect(b!.hashes).toEqual(a!.hashes.slice(0, 2));
    expect(b!.values).toEqual([2, 1]);
    // A primitive at the top level is its own namespace's one feature.
    const [c] = namespacesOf([{ genre: 'Drama' }, { genre: 'Comedy' }]);
    expect(c!.names).toEqual(['genre=Drama', 'genre=Comedy']);
    // Nothing usable in null, NaN or non-objects.
    expect(namespacesOf([null, 3, 'x', { v: Number.NaN }])).toEqual([{ name: 'v', names: [], hashes: [], values: [] }]);
  });

  it('builds a row of constant, first-order and context × action quadratic features', () => {
    const context = namespacesOf([{ user: { segment: 'a', age: 30 } }, { device: 'phone' }]);
    const action = [...namespacesOf({ item: { vec: [0.5, -2] } }), singleFeature('_id', 'id=a7', 1)];
    const all = buildRow(context, action, parseInteractions(['*:*']), { idx: [], val: [] });
    // 1 constant + 3 context + 3 action first-order + (3 context × 3 action) quadratic
    expect(all.idx.length).toBe(1 + 3 + 3 + 9);
    expect(all.idx[0]).toBe(CONSTANT_HASH);
    const seg = context[0]!.hashes[0]!;
    const age = context[0]!.hashes[1]!;
    const v1 = action[0]!.hashes[1]!;
    const at = all.idx.indexOf(hashPair(age, v1));
    expect(at).toBeGreaterThan(6);
    expect(all.val[at]).toBe(30 * -2);
    expect(all.idx).toContain(hashPair(seg, action[1]!.hashes[0]!));
    // Only the named pair: user × _id.
    const some = buildRow(context, action, parseInteractions(['user:_id']), { idx: [], val: [] });
    expect(some.idx.length).toBe(1 + 3 + 3 + 2);
    expect(some.idx.slice(7)).toEqual([hashPair(seg, action[1]!.hashes[0]!), hashPair(age, action[1]!.hashes[0]!)]);
    expect(() => parseInteractions(['user'])).toThrow(/interactions\[0\]/);
  });
});
