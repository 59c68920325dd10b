import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ML = path.resolve(process.cwd(), '../shared/datasets/ml-latest-small');

/**
 * Recall@10 as benchmarked (docs/benchmarks.md, "P2 `ml-ls-cold`", title-genres row). Both models
 * are deterministic; 2 % relative covers the rounding of floating-point kernels.
 */
const BENCHMARKED_RECALL = { content: 0.1794, 'popularity-genre': 0.0616 };
const TOLERANCE = 0.02;

/** Issue 3's command line, run against the built CLI (bin/chorus.js → dist/). */
describe('chorus evaluate --protocol ml-ls-cold', () => {
  it('prints the P1-shaped JSON for content with the built-in encoder, beating popularity-genre', async () => {
    const args = (model: string) => ['bin/chorus.js', 'evaluate', '--protocol', 'ml-ls-cold', '--model', model, '--embedder', 'builtin', '--data', ML, '--bootstrap', '0', '--json'];
    const content = JSON.parse((await run('node', args('content'), { maxBuffer: 16 << 20 })).stdout) as Record<string, unknown> & { metrics: Record<string, number> };
    expect(content.protocol).toBe('ml-ls-cold');
    expect(content.model).toBe('content');
    expect(content.variant).toBe('title-genres');
    expect((content.hyperparameters as { embedder: string }).embedder).toBe('builtin');
    for (const key of ['metrics', 'k', 'seed', 'users', 'split', 'stamp', 'fitSeconds', 'evalSeconds', 'candidates']) expect(content).toHaveProperty(key);
    const baseline = JSON.parse((await run('node', args('popularity-genre'), { maxBuffer: 16 << 20 })).stdout) as { metrics: Record<string, number> };
    expect(content.metrics['recall@10']!).toBeGreaterThan(baseline.metrics['recall@10']!);
    expect(Math.abs(content.metrics['recall@10']! - BENCHMARKED_RECALL.content)).toBeLessThanOrEqual(TOLERANCE * BENCHMARKED_RECALL.content);
    expect(Math.abs(baseline.metrics['recall@10']! - BENCHMARKED_RECALL['popularity-genre'])).toBeLessThanOrEqual(TOLERANCE * BENCHMARKED_RECALL['popularity-genre']);
  });
});
