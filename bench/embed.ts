/**
 * Embeddings benchmarks (issue 3), four tables:
 *  1. built-in encoder (TF-IDF + randomized SVD) on 10,000 item texts: train and embed seconds;
 *  2. transformers.js on the tiny BERT fixture (test/fixtures/models/local/tiny-bert): texts/s
 *     at several batch sizes (measures the pipeline's tokenise/batch/pool path, not a real model);
 *  3. P2 `ml-ls-cold`: Recall@10 / NDCG@10 of content (built-in encoder) vs popularity-genre,
 *     both text rows (title-genres, tags), plus the random baseline's expectation K / n_cold;
 *  4. P1 `ml-ls-t20` `all`: NDCG@10 of the hybrid vs its members.
 *
 *   node --import tsx bench/embed.ts [--parts builtin,onnx,p2,p1] [--data DIR] [--write]
 *
 * --write appends the tables (with date, load and command) to docs/benchmarks.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuiltinEmbedder } from '../src/embed/builtin.js';
import { itemTexts } from '../src/embed/text.js';
import { TransformersEmbedder } from '../src/embed/transformers.js';
import { loadP1 } from '../src/eval/p1.js';
import { runProtocol } from '../src/eval/protocol.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const parts = new Set((arg('parts') ?? 'builtin,onnx,p2,p1').split(','));
const data = arg('data') ?? resolve(ROOT, '../shared/datasets/ml-latest-small');
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const sections: { part: string; text: string }[] = [];
let currentPart = '';
const f4 = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(4));
/** CPU seconds of this process (all threads) since `start`: beside wall time, since machines are shared. */
const cpuS = (start: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(start);
  return (c.user + c.system) / 1e6;
};

function emit(title: string, header: string[], rows: (string | number)[][], note: string): void {
  const lines = [`### ${title}`, '', note, '', `| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`), ''];
  const text = lines.join('\n');
  process.stdout.write(text + '\n');
  sections.push({ part: currentPart, text });
}

async function corpus10k(): Promise<string[]> {
  const { full } = await loadP1(data, 'all');
  const base = itemTexts(full).filter((t) => t.length > 0);
  const out = base.slice(0, 10_000);
  // ml-latest-small has 9,742 movies: the rest are the first titles again with a sequel number,
  // so the corpus is 10,000 distinct texts of the same kind.
  for (let j = 0; out.length < 10_000; j++) out.push(base[j]!.replace(/ \(/, ` ${2 + (j % 3)} (`));
  return out;
}

if (parts.has('builtin')) {
  currentPart = 'builtin';
  const texts = await corpus10k();
  const rows: (string | number)[][] = [];
  for (const dim of [64, 128]) {
    const before = load();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const enc = BuiltinEmbedder.train(texts, { dim });
    const t1 = performance.now();
    await enc.embed(texts);
    const t2 = performance.now();
    rows.push([dim, enc.toJSON().vocab.length, ((t1 - t0) / 1000).toFixed(2), ((t2 - t1) / 1000).toFixed(2), ((t2 - t0) / 1000).toFixed(2), cpuS(c0).toFixed(2), before]);
  }
  emit('Built-in encoder: 10,000 item texts (target < 10 s)', ['dim', 'features', 'train s', 'embed s', 'total s', 'total CPU s', 'load before'], rows,
    'ml-latest-small movie texts ("Title (Year). Genres: …", 9,742 + 258 sequel-numbered variants); word + char 3–4-gram TF-IDF, randomized SVD (10 oversamples, 2 power iterations), seed 42; one process, one thread.');
}

if (parts.has('onnx')) {
  currentPart = 'onnx';
  const folder = resolve(ROOT, 'test/fixtures/models/local/tiny-bert');
  const texts = Array.from({ length: 2000 }, (_, i) => `the user likes ${['action', 'comedy', 'drama', 'jazz', 'rock'][i % 5]} movies ${i % 7 === 0 ? 'and good songs' : ''} ${i}`);
  const rows: (string | number)[][] = [];
  for (const batchSize of [1, 16, 64, 256]) {
    const enc = await TransformersEmbedder.load(folder, { batchSize });
    await enc.embed(texts.slice(0, 64)); // warm-up
    const before = load();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await enc.embed(texts);
    const s = (performance.now() - t0) / 1000;
    rows.push([batchSize, texts.length, s.toFixed(2), cpuS(c0).toFixed(2), Math.round(texts.length / s), before]);
  }
  emit('transformers.js on the tiny BERT fixture (target ≥ 200 texts/s)', ['batch', 'texts', 'seconds', 'CPU s', 'texts/s', 'load before'], rows,
    'Real @huggingface/transformers 4.3.1 feature-extraction pipeline on onnxruntime-node 1.30 (1 intra-op thread), WordPiece tokeniser, mean pooling, L2 norm; the fixture model is a 16-dim embedding+tanh graph, so this measures the pipeline overhead, not a real transformer.');
}

if (parts.has('p2')) {
  currentPart = 'p2';
  const rows: (string | number)[][] = [];
  for (const variant of ['title-genres', 'tags']) {
    let coldN = 0;
    for (const model of ['popularity-genre', 'content']) {
      const before = load();
      const r = await runProtocol({ protocol: 'ml-ls-cold', variant, model, modelConfig: model === 'content' ? { embedder: 'builtin' } : {}, dataDir: data, bootstrap: 1000, perUser: false });
      coldN = r.candidates.catalogueSize;
      const iv = r.intervals?.['recall@10'];
      rows.push([variant, model === 'content' ? 'content (builtin, 64 d)' : 'popularity-genre', r.users, f4(r.metrics['recall@10']), iv ? `[${f4(iv.lo)}, ${f4(iv.hi)}]` : '', f4(r.metrics['ndcg@10']), r.fitSeconds.toFixed(1), r.fitCpuSeconds.toFixed(1), before]);
    }
    rows.push([variant, 'random (expectation K / n_cold)', '', f4(10 / coldN), '', '', '', '', '']);
  }
  emit('P2 `ml-ls-cold`: content (built-in encoder) vs popularity-by-genre (target ≥ 2× Recall@10)', ['text row', 'model', 'users', 'Recall@10', '95% CI', 'NDCG@10', 'fit s', 'fit CPU s', 'load before'], rows,
    `ratings.csv sha256 aa289ca83157, variant all; 365 cold items = 10 % of the 3,650 items with ≥ 5 ratings, Rng (sfc32/splitmix32) seed 42; rest split by P1's rule; K = 10; bootstrap 1000, seed 0.`);
}

if (parts.has('p1')) {
  currentPart = 'p1';
  const models: [string, Record<string, unknown>][] = JSON.parse(arg('p1models') ?? 'null') ?? [
    ['ease', {}],
    ['itemknn', {}],
    ['als', {}],
    ['content', {}],
    ['hybrid', {}],
    ['hybrid', { fusion: 'rrf' }],
    ['hybrid', { fusion: 'borda' }],
  ];
  const rows: (string | number)[][] = [];
  for (const [model, config] of models) {
    const before = load();
    const r = await runProtocol({ protocol: 'ml-ls-t20', variant: 'all', model, modelConfig: config, dataDir: data, bootstrap: 1000, perUser: false });
    const iv = r.intervals?.['ndcg@10'];
    const hp = model === 'hybrid' ? `${String(r.hyperparameters.fusion)}; members ${(r.hyperparameters.members as { kind: string }[]).map((m) => m.kind).join('+')}` : JSON.stringify(config);
    rows.push([model, hp, f4(r.metrics['ndcg@10']), iv ? `[${f4(iv.lo)}, ${f4(iv.hi)}]` : '', f4(r.metrics['recall@10']), r.fitSeconds.toFixed(1), r.fitCpuSeconds.toFixed(1), before]);
  }
  emit('P1 `ml-ls-t20` `all`: hybrid vs single models (target: best hybrid ≥ +3 % NDCG@10 over the best single)', ['model', 'settings', 'NDCG@10', '95% CI', 'Recall@10', 'fit s', 'fit CPU s', 'load before'], rows,
    'Hybrid weights tuned on a validation split cut from train by P1\'s rule (never on test): members fitted on the rest, simplex grid step 0.1, NDCG@10 over ≤ 1,000 validation users, then refitted on all of train. Each model with its registry defaults.');
}

if (process.argv.includes('--write')) {
  // Each part is its own marked block, replaced in place when that part runs again.
  const cmd = `node --import tsx bench/embed.ts ${process.argv.slice(2).join(' ')}`;
  const file = resolve(ROOT, 'docs/benchmarks.md');
  for (const { part, text } of sections) {
    const start = `<!-- bench:embed-${part} -->`;
    const end = `<!-- /bench:embed-${part} -->`;
    const body = `${start}\n${text}\nCommand: \`${cmd}\` · ${new Date().toISOString()} · ${cpus().length} vCPU ${cpus()[0]?.model ?? ''} · Node ${process.version} · load after ${load()}\n${end}`;
    const doc = readFileSync(file, 'utf8');
    const a = doc.indexOf(start);
    const b = doc.indexOf(end);
    const heading = '## Embeddings, content and hybrid (bench/embed.ts)';
    const base = doc.includes(heading) ? doc.trimEnd() : `${doc.trimEnd()}\n\n${heading}`;
    writeFileSync(file, a >= 0 && b > a ? doc.slice(0, a) + body + doc.slice(b + end.length) : `${base}\n\n${body}\n`);
  }
}
