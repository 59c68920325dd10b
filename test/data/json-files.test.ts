import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/cli/config.js';
import { readModelIndex } from '../../src/cli/model-index.js';
import { DataError } from '../../src/errors.js';
import { datasetFromTriples, loadDatasetFile, parseJsonText, readItemMetadata, saveDataset } from '../../src/data/index.js';
import { readModelHeader } from '../../src/recommenders/persist.js';
import { tempDir, tempFile } from './helpers.js';

/** What `fn` throws (fails the test when it returns). */
async function thrown(fn: () => unknown): Promise<DataError> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DataError);
  return err as DataError;
}

// A JSON document whose first bad character (the second comma) is on line 3, column 12.
const BAD = '{\n  "a": 1,\n  "b": [1, , 2]\n}\n';

describe('every JSON file read names the file, line and column on a syntax error', () => {
  it('parseJsonText', async () => {
    const e = await thrown(() => parseJsonText(BAD, { file: 'x.json' }));
    expect(e.location).toEqual({ file: 'x.json', line: 3, column: 12 });
    expect(e.message).toMatch(/^x\.json:3:12: not valid JSON: /);
    // A JSON line is numbered from the line it is on.
    expect((await thrown(() => parseJsonText('{"a":}', { file: 'l.jsonl', line: 7 }))).location).toEqual({ file: 'l.jsonl', line: 7, column: 6 });
  });

  it('the config file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'chorus.config.json'), BAD);
    const e = await thrown(() => loadConfig(undefined, dir));
    expect(e.location).toEqual({ file: join(dir, 'chorus.config.json'), line: 3, column: 12 });
  });

  it("a model's id index and a saved model", async () => {
    const model = join(tempDir(), 'm.model.json');
    writeFileSync(model.replace(/\.json$/, '.index.json'), BAD);
    expect((await thrown(() => readModelIndex(model))).location).toEqual({ file: model.replace(/\.json$/, '.index.json'), line: 3, column: 12 });
    const e = await thrown(() => readModelHeader(BAD, 'm.model.json'));
    expect(e.location).toEqual({ file: 'm.model.json', line: 3, column: 12 });
    expect(e.code).toBe('E_MODEL_CORRUPT');
    expect(e.message).toContain('not a readable model file');
  });

  it('a JSONL metadata file, on the first line and later', async () => {
    const ds = datasetFromTriples([['u', 'a']]);
    const first = tempFile('items.jsonl', '{"id":"a",}\n');
    expect((await thrown(() => readItemMetadata(first, ds))).location).toEqual({ file: first, line: 1, column: 11 });
    const later = tempFile('items.jsonl', '{"id":"a"}\n\n{"id":"b" "title":"x"}\n');
    expect((await thrown(() => readItemMetadata(later, ds, { columns: { id: 'id' } }))).location).toEqual({ file: later, line: 3, column: 11 });
  });

  it('a dataset snapshot, by byte offset', async () => {
    const p = join(tempDir(), 'ds.chorus-dataset');
    await saveDataset(datasetFromTriples([['a', 'b', 1, 2]]), p);
    const bytes = readFileSync(p);
    bytes[16] = 0x5b; // the header's opening "{" becomes "[": the first ":" is then bad
    writeFileSync(p, bytes);
    const e = await thrown(() => loadDatasetFile(p));
    expect(e.location).toEqual({ file: p });
    expect(e.message).toMatch(/snapshot header is not valid JSON: .*\(at byte offset \d+\)$/);
    const at = Number(/byte offset (\d+)/.exec(e.message)![1]);
    expect(String.fromCharCode(bytes[at]!)).toBe(':');
  });
});
