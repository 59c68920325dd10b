import { describe, expect, it } from 'vitest';
import { registerTeam } from '../../src/marl/register.js';
import { fitExtras, parseExtrasSpec } from '../../src/marl/extras.js';
import { ConfigError } from '../../src/errors.js';
import { datasetFromTriples } from '../../src/data/dataset.js';

// The team is not in the agent and recommender registries until asked for (as the CLI does).
registerTeam();

describe('parseExtrasSpec', () => {
  it('reads names with optional JSON configs that hold commas and nested objects', () => {
    expect(parseExtrasSpec('')).toEqual([]);
    expect(parseExtrasSpec('mf, ease')).toEqual([{ name: 'mf', config: undefined }, { name: 'ease', config: undefined }]);
    expect(parseExtrasSpec('mf{"epochs":40,"factors":200},itemknn{"k":{"a":1}}')).toEqual([
      { name: 'mf', config: { epochs: 40, factors: 200 } },
      { name: 'itemknn', config: { k: { a: 1 } } },
    ]);
  });

  it('names the field and the problem for bad specs', () => {
    const bad = (s: string): ConfigError => {
      try {
        parseExtrasSpec(s);
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error(`"${s}" was accepted`);
    };
    expect(bad('mf{"epochs":40').message).toMatch(/no closing brace/);
    expect(bad('mf{epochs:40}').message).toMatch(/not JSON/);
    expect(bad('mf ease').message).toMatch(/expected ","/);
    expect(bad('mf,mf').message).toMatch(/given twice/);
    expect(bad('{}').message).toMatch(/recommender name/);
    expect(bad('mf,mf').location).toEqual({ field: 'extras' });
  });

  it('fits each extra with its config and scores through it', async () => {
    const rows: [string, string, number][] = [];
    for (let u = 0; u < 6; u++) for (let i = 0; i < 5; i++) if ((u + i) % 2 === 0) rows.push([`u${u}`, `i${i}`, 1 + ((u * i) % 5)]);
    const ds = datasetFromTriples(rows);
    const [mf] = await fitExtras(parseExtrasSpec('mf{"factors":3,"epochs":2,"seed":5}'), ds);
    expect(mf!.name).toBe('mf');
    const out = new Float32Array(ds.nItems);
    mf!.scoreUser(0, new Int32Array(0), out);
    expect(out.every((x) => Number.isFinite(x))).toBe(true);
    await expect(fitExtras(parseExtrasSpec('mf{"factors":-1}'), ds)).rejects.toThrow(/factors/);
  });
});
