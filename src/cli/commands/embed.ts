/**
 * `chorus embed`: embed a dataset's item texts with an encoder (built-in, transformers.js or an
 * OpenAI-compatible HTTP server) through the persistent embedding cache, so a re-run embeds only
 * new or changed texts; optionally write the vectors to a file.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CachedEmbedder, defaultCachePath, EmbeddingCache } from '../../embed/cache.js';
import { createEmbedder, EMBEDDER_SPEC_FORMS, parseEmbedderSpec } from '../../embed/registry.js';
import { itemTexts } from '../../embed/text.js';
import type { Embedder } from '../../embed/types.js';
import { stringify } from '../../util/serialize.js';
import { intFlag, loadConfig } from '../config.js';
import { dataPath, loadData, readOptions } from '../data.js';
import { table, withCleanStdout, writeErr, writeJson, writeOut } from '../output.js';
import { progressBar } from '../progress.js';

interface EmbedFlags {
  data?: string;
  embedder?: string;
  tags?: boolean;
  cache?: string | false;
  out?: string;
  batchSize?: string;
  config?: string;
  json?: boolean;
}

/** What `chorus embed --json` prints. */
export interface EmbedSummary {
  dataset: string;
  items: number;
  encoder: string;
  dim: number;
  cache: { path: string; hits: number; misses: number } | null;
  seconds: number;
  out?: string;
}

export function register(program: Command): void {
  program
    .command('embed')
    .description("embed a dataset's item texts (title, genres, text; tags with --tags) into the embedding cache or a file")
    .option('-d, --data <path>', 'dataset folder or file (default: config "data", else the demo data)')
    .option('-e, --embedder <spec>', `encoder: ${EMBEDDER_SPEC_FORMS.join(' | ')} (default: default)`)
    .option('--tags', 'append item tags to the text')
    .option('--cache <file>', `embedding cache file (default ${defaultCachePath()})`)
    .option('--no-cache', 'do not read or write the embedding cache')
    .option('-o, --out <file>', 'write {encoder, dim, itemIds, vectors} as JSON (vectors base64 Float32)')
    .option('--batch-size <n>', 'texts per encoder call (default 256)')
    .action(async function (this: Command) {
      const flags = this.optsWithGlobals<EmbedFlags>();
      const { config } = loadConfig(flags.config);
      const spec = parseEmbedderSpec(flags.embedder ?? 'default', 'embedder');
      const batch = intFlag(flags.batchSize, 'batch-size', 1) ?? 256;
      const json = Boolean(flags.json);
      await withCleanStdout(json, async () => {
        const path = dataPath(flags.data, config);
        const { dataset } = await loadData(path, readOptions(config));
        const texts = itemTexts(dataset, { tags: Boolean(flags.tags) });
        const started = performance.now();
        const inner = await createEmbedder(spec, { corpus: texts.filter((t) => t.length > 0), warn: (line) => writeErr(line) });
        let cache: EmbeddingCache | undefined;
        let embedder: Embedder = inner;
        if (flags.cache !== false) {
          cache = new EmbeddingCache(typeof flags.cache === 'string' ? flags.cache : defaultCachePath());
          embedder = new CachedEmbedder(inner, cache);
        }
        const bar = progressBar('embed');
        const parts: Float32Array[] = [];
        try {
          for (let s = 0; s < texts.length; s += batch) {
            parts.push(await embedder.embed(texts.slice(s, s + batch)));
            bar.update(Math.min(s + batch, texts.length), texts.length, 'items');
          }
        } finally {
          bar.stop();
          cache?.close();
        }
        const dim = texts.length > 0 ? parts.reduce((a, p) => a + p.length, 0) / texts.length : embedder.dim;
        const summary: EmbedSummary = {
          dataset: path,
          items: texts.length,
          encoder: inner.id,
          dim,
          cache: cache && embedder instanceof CachedEmbedder ? { path: cache.path, ...embedder.stats } : null,
          seconds: (performance.now() - started) / 1000,
        };
        if (flags.out) {
          const vectors = new Float32Array(texts.length * dim);
          let o = 0;
          for (const p of parts) {
            vectors.set(p, o);
            o += p.length;
          }
          await writeFile(flags.out, stringify({ encoder: inner.id, dim, itemIds: dataset.items.ids(), vectors }), 'utf8');
          summary.out = flags.out;
        }
        if (json) writeJson(summary);
        else {
          const rows: [string, string | number][] = [
            ['dataset', path],
            ['items', summary.items],
            ['encoder', summary.encoder],
            ['dim', summary.dim],
            ['cache', summary.cache ? `${summary.cache.hits} hits, ${summary.cache.misses} misses (${summary.cache.path})` : 'off'],
            ['seconds', summary.seconds.toFixed(2)],
          ];
          if (summary.out) rows.push(['written to', summary.out]);
          writeOut(table(['', 'value'], rows));
        }
      });
    });
}
