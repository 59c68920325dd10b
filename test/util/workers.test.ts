import { describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '../../src/errors.js';
import { WorkerPool, workerUrl } from '../../src/util/workers.js';

describe('WorkerPool', () => {
  it('resolves a .ts worker from TS sources and a .js one from compiled code', () => {
    expect(workerUrl('file:///x/src/a.ts', './w.js').pathname).toBe('/x/src/w.ts');
    expect(workerUrl('file:///x/dist/a.js', './w.js').pathname).toBe('/x/dist/w.js');
  });

  it('runs work on shared memory in two workers, propagates errors, and shuts down', async () => {
    const shared = new Float64Array(new SharedArrayBuffer(8 * 10)).fill(1.5);
    const pool = new WorkerPool(workerUrl(import.meta.url, './fixtures/echo-worker.js'), 2, { shared, tag: 'hello' });
    try {
      expect(pool.size).toBe(2);
      const done = await Promise.all([pool.run(0, { op: 'double', from: 0, to: 4 }), pool.run(1, { op: 'double', from: 4, to: 10 })]);
      expect(done).toEqual([4, 6]);
      expect(Array.from(shared)).toEqual(new Array(10).fill(3));
      expect(await pool.run(1, { op: 'tag' })).toBe('hello');
      await expect(pool.run(0, { op: 'fail' })).rejects.toThrow('asked to fail');
      // The worker survives a failed request.
      expect(await pool.run(0, { op: 'tag' })).toBe('hello');
      await expect(pool.run(2, { op: 'tag' })).rejects.toThrow(RangeError);
    } finally {
      await pool.close();
    }
    await expect(pool.run(0, { op: 'tag' })).rejects.toThrow(/closed/);
    await pool.close();
  });

  it('a ChorusError thrown in a worker keeps its class, code, status and location', async () => {
    const shared = new Float64Array(new SharedArrayBuffer(8));
    const pool = new WorkerPool(workerUrl(import.meta.url, './fixtures/echo-worker.js'), 1, { shared, tag: 't' });
    try {
      const config = await pool.run(0, { op: 'bad-config' }).catch((e: unknown) => e);
      expect(config).toBeInstanceOf(ConfigError);
      expect(config).toMatchObject({ code: 'E_CONFIG', status: 400, location: { field: 'factors' } });
      const data = await pool.run(0, { op: 'bad-data' }).catch((e: unknown) => e);
      expect(data).toBeInstanceOf(DataError);
      expect(data).toMatchObject({ code: 'E_PARSE', location: { file: 'r.csv', line: 7, field: 'rating' } });
      // The message carries the location once, as a ChorusError thrown here would.
      expect((data as Error).message).toBe(new DataError('not a number', { file: 'r.csv', line: 7, field: 'rating' }, 'E_PARSE').message);
      // The stack is the worker's, where the error was thrown.
      expect((data as Error).stack).toContain('echo-worker');
    } finally {
      await pool.close();
    }
  });
});
