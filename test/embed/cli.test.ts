import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { EmbedSummary } from '../../src/cli/commands/embed.js';
import { parse } from '../../src/util/serialize.js';

const dir = mkdtempSync(path.join(tmpdir(), 'chorus-embed-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DEMO = path.resolve(process.cwd(), 'data/demo');

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  try {
    const code = await main(['node', 'chorus', ...args]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('chorus embed', () => {
  it('embeds the item texts into the cache; a re-run is all hits; --out writes the vectors', async () => {
    const cache = path.join(dir, 'emb.sqlite');
    const out = path.join(dir, 'vectors.json');
    const first = await run(['embed', '--data', DEMO, '--embedder', 'builtin', '--cache', cache, '--json']);
    expect(first.code, first.err).toBe(0);
    const a = JSON.parse(first.out) as EmbedSummary;
    expect(a.items).toBeGreaterThan(10);
    expect(a.encoder).toMatch(/^builtin:/);
    expect(a.cache).toMatchObject({ hits: 0, misses: a.items });
    const second = await run(['embed', '--data', DEMO, '--embedder', 'builtin', '--cache', cache, '--out', out, '--json']);
    const b = JSON.parse(second.out) as EmbedSummary;
    expect(b.cache).toMatchObject({ hits: a.items, misses: 0 });
    const file = parse(readFileSync(out, 'utf8')) as { dim: number; itemIds: string[]; vectors: Float32Array };
    expect(file.vectors.length).toBe(file.itemIds.length * file.dim);
  });

  it('fails with one clear line for a malformed --embedder', async () => {
    const r = await run(['embed', '--data', DEMO, '--embedder', 'http:nohash', '--no-cache']);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/http:<base url>#<model>/);
  });
});
