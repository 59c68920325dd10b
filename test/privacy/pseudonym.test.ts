import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { datasetFromTriples } from '../../src/data/dataset.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDatasetFile, saveDataset } from '../../src/data/snapshot.js';
import { checkIdMode, datasetIdMode, looksPseudonymous, Pseudonymiser, pseudonymiseDataset, pseudonymiserFromEnv, RAW_IDS } from '../../src/privacy/pseudonym.js';

const KEY = 'k'.repeat(16) + '0123456789abcdef';

describe('Pseudonymiser', () => {
  it('is a keyed HMAC-SHA256: p_ + 22 base64url characters, stable per key, different across keys', () => {
    const p = new Pseudonymiser(KEY);
    const a = p.of('alice');
    expect(a).toMatch(/^p_[A-Za-z0-9_-]{22}$/);
    expect(looksPseudonymous(a)).toBe(true);
    expect(p.of('alice')).toBe(a);
    expect(p.of('bob')).not.toBe(a);
    expect(new Pseudonymiser(KEY.replace('0', '1')).of('alice')).not.toBe(a);
    // The documented construction, so another tool holding the key can compute the same pseudonym.
    const expected = 'p_' + createHmac('sha256', KEY).update('user:alice').digest().subarray(0, 16).toString('base64url');
    expect(a).toBe(expected);
  });

  it('refuses a short key and a missing one, naming the variable', () => {
    expect(() => new Pseudonymiser('short')).toThrow(/at least 32 characters/);
    expect(() => pseudonymiserFromEnv({})).toThrow(/CHORUS_ID_KEY/);
    expect(pseudonymiserFromEnv({ CHORUS_ID_KEY: KEY }).of('x')).toBe(new Pseudonymiser(KEY).of('x'));
  });

  it('records a mode that tells raw stores, pseudonymised stores and other keys apart', () => {
    const p = new Pseudonymiser(KEY);
    const q = new Pseudonymiser(KEY + 'x');
    expect(p.mode).toMatch(/^hmac-sha256:[0-9a-f]{16}$/);
    expect(p.mode).not.toBe(q.mode);
    expect(() => checkIdMode(undefined, p.mode, 'store')).not.toThrow();
    expect(() => checkIdMode(p.mode, p.mode, 'store')).not.toThrow();
    expect(() => checkIdMode(RAW_IDS, p.mode, 'store')).toThrow(/holds raw user ids but this run would write pseudonymous/);
    expect(() => checkIdMode(p.mode, RAW_IDS, 'store')).toThrow(/holds pseudonymous user ids but this run would write raw/);
    expect(() => checkIdMode(p.mode, q.mode, 'store')).toThrow(/another key/);
  });

  it('pseudonymises a dataset: same indices and interactions, no raw id left', () => {
    const ds = datasetFromTriples([['alice', 'i1', 1], ['bob', 'i2', 1], ['alice', 'i2', 1]], 'x');
    const p = new Pseudonymiser(KEY);
    const out = pseudonymiseDataset(ds, p);
    expect(out.users.ids()).toEqual(['alice', 'bob'].map((u) => p.of(u)));
    expect(out.interactions).toBe(ds.interactions);
    expect(out.items).toBe(ds.items);
    expect(out.users.ids().join()).not.toMatch(/alice|bob/);
  });

  it('records the key in the dataset it pseudonymises, never hashes it twice, and refuses another key', async () => {
    const ds = datasetFromTriples([['alice', 'm1', 1, 1], ['bob', 'm2', 1, 2]], 'd');
    expect(datasetIdMode(ds)).toBe(RAW_IDS);
    const p = new Pseudonymiser(KEY);
    const once = pseudonymiseDataset(ds, p);
    expect(datasetIdMode(once)).toBe(p.mode);
    expect(pseudonymiseDataset(once, p)).toBe(once);
    expect(once.users.has(p.of('alice'))).toBe(true);
    expect(() => pseudonymiseDataset(once, new Pseudonymiser(KEY.replace('0', '1')))).toThrow(/another key/);
    // The mode survives a dataset snapshot (what `chorus import --pseudonymise` writes).
    const dir = mkdtempSync(join(tmpdir(), 'chorus-pseudonym-'));
    try {
      await saveDataset(once, join(dir, 'p.chorus-dataset'));
      expect(datasetIdMode(await loadDatasetFile(join(dir, 'p.chorus-dataset')))).toBe(p.mode);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
