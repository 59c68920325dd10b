import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetFromTriples } from '../../src/data/dataset.js';
import { DataError, ModelStateError } from '../../src/errors.js';
import { ItemKnn } from '../../src/recommenders/knn.js';
import { loadModel, MODEL_FORMAT, readModelHeader, saveModel, serializeModel } from '../../src/recommenders/persist.js';

describe('model files', () => {
  let dir: string;
  let good: string;
  let doc: Record<string, unknown>;
  const ds = datasetFromTriples([
    ['u0', 'a'],
    ['u0', 'b'],
    ['u1', 'b'],
    ['u1', 'c'],
  ]);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'chorus-persist-'));
    const m = new ItemKnn({ k: 3 });
    await m.fit(ds);
    good = path.join(dir, 'good.json');
    await saveModel(m, good);
    doc = JSON.parse(readFileSync(good, 'utf8')) as Record<string, unknown>;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, content: unknown): string {
    const f = path.join(dir, name);
    writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
    return f;
  }

  it('writes a header with format, versions, kind and time', () => {
    expect(doc).toMatchObject({ format: MODEL_FORMAT, formatVersion: 1, kind: 'itemknn', kindVersion: 1 });
    expect(Number.isNaN(Date.parse(doc.created as string))).toBe(false);
    expect(readModelHeader(readFileSync(good, 'utf8')).kind).toBe('itemknn');
  });

  it('loads back, and refuses a different expected kind', async () => {
    expect((await loadModel(good)).kind).toBe('itemknn');
    await expect(loadModel(good, 'bpr')).rejects.toThrow(ModelStateError);
    await expect(loadModel(good, 'bpr')).rejects.toThrow(/good\.json.*"itemknn".*not "bpr"/);
  });

  it('names the file when it is missing, not JSON, or not a model', async () => {
    const missing = path.join(dir, 'nope.json');
    await expect(loadModel(missing)).rejects.toThrow(DataError);
    await expect(loadModel(missing)).rejects.toThrow(/nope\.json/);
    const cut = write('cut.json', readFileSync(good, 'utf8').slice(0, 100));
    await expect(loadModel(cut)).rejects.toThrow(DataError);
    await expect(loadModel(cut)).rejects.toThrow(/cut\.json/);
    const other = write('other.json', { hello: 1 });
    await expect(loadModel(other)).rejects.toThrow(/other\.json.*not a chorus-model file/);
  });

  it('refuses a newer file format or model version', async () => {
    const newer = write('newer.json', { ...doc, formatVersion: 2 });
    await expect(loadModel(newer)).rejects.toThrow(ModelStateError);
    await expect(loadModel(newer)).rejects.toThrow(/newer\.json.*format version 2/);
    const kindV = write('kindv.json', { ...doc, kindVersion: 7 });
    await expect(loadModel(kindV)).rejects.toThrow(ModelStateError);
    await expect(loadModel(kindV)).rejects.toThrow(/kindv\.json.*v7/);
  });

  it('refuses an unknown kind and a state of the wrong shape', async () => {
    const kind = write('kind.json', { ...doc, kind: 'mystery' });
    await expect(loadModel(kind)).rejects.toThrow(ModelStateError);
    await expect(loadModel(kind)).rejects.toThrow(/kind\.json: unknown recommender "mystery"/);
    const state = { ...(doc.state as Record<string, unknown>) };
    state.simValues = { $typed: 'Float32Array', b64: 'AAAAAA==' };
    const bad = write('bad.json', { ...doc, state });
    await expect(loadModel(bad)).rejects.toThrow(DataError);
    await expect(loadModel(bad)).rejects.toThrow(/bad\.json.*state\.simValues/);
    const badConfig = write('badconfig.json', { ...doc, config: { k: 0, shrink: 0, binary: true } });
    await expect(loadModel(badConfig)).rejects.toThrow(/field "k"/);
  });

  it('saving an unfitted model fails and writes nothing', async () => {
    const f = path.join(dir, 'unfitted.json');
    await expect(saveModel(new ItemKnn(), f)).rejects.toThrow(ModelStateError);
    expect(() => readFileSync(f)).toThrow();
    expect(() => serializeModel(new ItemKnn())).toThrow(ModelStateError);
  });
});
