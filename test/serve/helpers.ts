import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetFromTriples, type Dataset } from '../../src/data/dataset.js';
import { startServer, type RunningServer, type StartOptions } from '../../src/serve/server.js';

export const ADMIN = 'test-admin-key-0123456789';

/** 6 users × 12 items, with genres as item categories and titles. */
export function tinyDataset(): Dataset {
  const triples: [string, string, number, number][] = [];
  let t = 1_600_000_000;
  for (let u = 1; u <= 6; u++) {
    for (let i = 1; i <= 12; i++) {
      if ((u * 7 + i * 3) % 4 === 0 || i <= 2) triples.push([`u${u}`, `m${i}`, 1 + ((u + i) % 5), t++]);
    }
  }
  const ds = datasetFromTriples(triples, 'tiny');
  for (let i = 0; i < ds.nItems; i++) {
    const id = ds.items.toExternal(i);
    const n = Number(id.slice(1));
    ds.itemMeta[i] = { title: `Movie ${n}`, categories: [n % 2 ? 'Comedy' : 'Drama', n % 3 ? 'Action' : 'Romance'] };
  }
  return ds;
}

// `body: any`: tests read arbitrary JSON responses field by field; the assertions do the checking.
export interface TestServer extends RunningServer {
  dir: string;
  /** fetch against the server with the admin key unless `key` is given (null: no key). */
  call(method: string, path: string, body?: unknown, opts?: { key?: string | null; type?: string; raw?: string }): Promise<{ status: number; body: any; text: string; headers: Headers }>;
}

export async function startTestServer(o: Partial<StartOptions> & { dir?: string } = {}): Promise<TestServer> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'chorus-serve-'));
  const s = await startServer({
    dataset: o.dataset ?? tinyDataset(),
    store: o.store ?? `sqlite:${join(dir, 'chorus.db')}`,
    adminKey: ADMIN,
    engine: { model: { kind: 'popularity', config: {} }, ...o.engine },
    server: o.server,
    models: o.models,
    ...(o.bus !== undefined ? { bus: o.bus } : {}),
    ...(o.poolCacheTtl !== undefined ? { poolCacheTtl: o.poolCacheTtl } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...(o.onLearnerLockLost ? { onLearnerLockLost: o.onLearnerLockLost } : {}),
  });
  const call: TestServer['call'] = async (method, path, body, opts = {}) => {
    const key = opts.key === undefined ? ADMIN : opts.key;
    const headers: Record<string, string> = {};
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let payload: string | undefined;
    if (opts.raw !== undefined) {
      payload = opts.raw;
      headers['content-type'] = opts.type ?? 'application/json';
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = opts.type ?? 'application/json';
    }
    const res = await fetch(`${s.url}${path}`, { method, headers, body: payload });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  };
  const close = s.close;
  return Object.assign(s, {
    dir,
    call,
    close: async () => {
      await close();
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
    },
  });
}
