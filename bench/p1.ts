/**
 * P1 (`ml-ls-t20`) for every registered model, variants `all` and `pos4`: NDCG@10, Recall@10,
 * fit and evaluation seconds and peak memory, each run in its own child process so the peak RSS
 * belongs to that model alone (data loading included). Writes its section of docs/benchmarks.md
 * (replaced on re-run) and prints the same table.
 *
 *   node --import tsx bench/p1.ts [--models als,ease] [--variants all] [--data DIR] [--config JSON] [--no-write]
 *
 * `--config '{"threads":1}'` gives every model these hyper-parameters over its defaults.
 *
 * With `--protocol t20` (or random20, last-n, time-cut) and `--data <folder|file|snapshot>` it runs
 * an any-data protocol instead (default variant `all`) and writes a section of its own, named after
 * the protocol and the dataset, so P1's section stays the reference.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evalModelNames, runProtocol, type ProtocolResult } from '../src/eval/index.js';
import { strArg as arg, writeSection } from './args.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');

interface Row {
  model: string;
  variant: string;
  result: Omit<ProtocolResult, 'perUser' | 'perUserIds'>;
  peakRssMiB: number;
}

/** Child mode: one model, one variant; prints one JSON line. */
async function one(model: string, variant: string, dataDir: string, protocol: string, config: string): Promise<void> {
  const modelConfig = JSON.parse(config) as Record<string, unknown>;
  const r = await runProtocol({ protocol, variant, model, modelConfig, dataDir, seed: 0, bootstrap: 1000, perUser: false });
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ model, variant, result: r, peakRssMiB } satisfies Row)}\n`);
}

function fmt(x: number, d = 4): string {
  return Number.isFinite(x) ? x.toFixed(d) : '—';
}

function hyper(h: Record<string, unknown>): string {
  return Object.entries(h)
    .map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join(', ');
}

async function parent(): Promise<void> {
  const dataDir = arg('data') ?? resolve(ROOT, '../shared/datasets/ml-latest-small');
  const models = (arg('models') ?? evalModelNames().join(',')).split(',').filter(Boolean);
  const protocol = arg('protocol') ?? 'ml-ls-t20';
  const reference = protocol === 'ml-ls-t20';
  const config = arg('config') ?? '{}';
  const variants = (arg('variants') ?? (reference ? 'all,pos4' : 'all')).split(',').filter(Boolean);
  const loadBefore = loadavg().map((x) => x.toFixed(2)).join(' ');
  const rows: Row[] = [];
  for (const variant of variants) {
    for (const model of models) {
      process.stderr.write(`p1 ${variant} ${model} … `);
      const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--one', model, variant, dataDir, protocol, config], {
        cwd: ROOT,
        encoding: 'utf8',
        maxBuffer: 16 << 20,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const row = JSON.parse(out.trim().split('\n').pop()!) as Row;
      process.stderr.write(`ndcg@10 ${fmt(row.result.metrics['ndcg@10']!)} fit ${row.result.fitSeconds.toFixed(2)} s\n`);
      rows.push(row);
    }
  }
  const loadAfter = loadavg().map((x) => x.toFixed(2)).join(' ');
  const first = rows[0]!.result.stamp;
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const lines: string[] = [];
  const dataName = first.dataset.name ?? relative(ROOT, first.dataset.file);
  const ranAs = rows[0]!.result.protocol;
  lines.push(reference ? '## P1 (`ml-ls-t20`): classic recommenders' : `## \`${protocol}\` on ${dataName}: classic recommenders`);
  lines.push('');
  const command = reference ? 'node --import tsx bench/p1.ts' : `node --import tsx bench/p1.ts --protocol ${protocol} --data ${relative(ROOT, dataDir)}`;
  lines.push(`Command: \`${command}\` (each model in its own process; peak memory is that process's maximum RSS, data loading included).`);
  lines.push('');
  lines.push(
    `Date ${date} UTC · machine ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version} · ` +
      `load average before ${loadBefore}, after ${loadAfter}.`,
  );
  lines.push(
    `Protocol ${ranAs}${reference ? ' (PROTOCOLS.md P1)' : ranAs === protocol ? '' : ` (${protocol} asked; ${rows[0]!.result.note ?? ''})`}, data \`${relative(ROOT, first.dataset.file)}\` sha256:${first.dataset.sha256}, K=10, seed 0, full-catalogue ranking, code ${first.codeVersion}.`,
  );
  lines.push('');
  lines.push('| variant | model | NDCG@10 [95 % CI] | Recall@10 | Precision@10 | HR@10 | Coverage@10 | fit s (CPU s) | eval s (CPU s) | peak MiB | hyper-parameters |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const m = r.result.metrics;
    const ci = r.result.intervals?.['ndcg@10'];
    const ndcg = ci ? `${fmt(m['ndcg@10']!)} [${fmt(ci.lo, 3)}, ${fmt(ci.hi, 3)}]` : fmt(m['ndcg@10']!);
    lines.push(
      `| ${r.variant} | ${r.model} | ${ndcg} | ${fmt(m['recall@10']!)} | ${fmt(m['precision@10']!)} | ${fmt(m['hr@10']!)} | ` +
        `${fmt(m['coverage@10']!)} | ${r.result.fitSeconds.toFixed(2)} (${r.result.fitCpuSeconds.toFixed(2)}) | ${r.result.evalSeconds.toFixed(2)} (${r.result.evalCpuSeconds.toFixed(2)}) | ${r.peakRssMiB.toFixed(0)} | ${hyper(r.result.hyperparameters)} |`,
    );
  }
  lines.push('');
  lines.push(
    '"eval s" is the full-catalogue evaluation of every test user (scoring, masking, top-10 and all metrics). ' +
      'Reference figures from peer libraries are in ../shared/PROTOCOLS.md.',
  );
  const section = lines.join('\n');
  process.stdout.write(`${section}\n`);
  const sectionName = reference ? 'p1' : `${protocol}-${dataName}`;
  if (!process.argv.includes('--no-write')) writeSection(resolve(ROOT, 'docs/benchmarks.md'), sectionName, section);
}

const i = process.argv.indexOf('--one');
if (i >= 0) await one(process.argv[i + 1]!, process.argv[i + 2]!, process.argv[i + 3]!, process.argv[i + 4]!, process.argv[i + 5] ?? '{}');
else await parent();
