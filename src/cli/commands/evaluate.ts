/**
 * `chorus evaluate`: run a registered protocol (P1 `ml-ls-t20` by default) for one model and
 * print its metrics with 95 % intervals and the reporting stamp; `--compare` adds a paired
 * comparison against a second model on per-user NDCG.
 */
import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
// Through the eval layer's public index, so protocols registered there (P2, …) are known.
import { parseTimestamp } from '../../data/field-values.js';
import { isMovieLensDir } from '../../data/movielens.js';
import type { ReadOptions } from '../../data/read-interactions.js';
import { ANY_DATA_PROTOCOLS, getProtocol, PROTOCOLS, type SplitParams, runProtocol, type ProtocolResult, pairedComparison, type PairedComparison, formatStamp } from '../../eval/index.js';
import { parseEmbedderSpec } from '../../embed/registry.js';
import { ConfigError } from '../../errors.js';
import { listRecommenders } from '../../recommenders/registry.js';
import { intFlag, loadConfig, parseParams, type ChorusConfig } from '../config.js';
import { formatNumber, formatPrivacy, table, withCleanStdout, writeJson, writeOut } from '../output.js';
import { addDataFlags, dataFlagOptions, printLoadWarning, readOptions, type DataFlags } from '../data.js';
import { demoDataDir } from '../paths.js';
import { progressBar } from '../progress.js';
import { addPrivacyFlags, privacyOptions, withPrivacy, type PrivacyFlags } from '../privacy-flags.js';

interface EvaluateFlags extends DataFlags, PrivacyFlags {
  protocol?: string;
  variant?: string;
  model?: string;
  data?: string;
  k?: string;
  seed?: string;
  bootstrap?: string;
  sampledNegatives?: string;
  split?: string;
  param?: string[];
  embedder?: string;
  compare?: string;
  perUser?: string;
  config?: string;
  json?: boolean;
  testRatio?: string;
  lastN?: string;
  cut?: string;
}

export interface EvaluateSettings {
  protocol: string;
  variant?: string;
  model: string;
  modelConfig: Record<string, unknown>;
  dataDir?: string;
  k?: number;
  seed?: number;
  bootstrap?: number;
  sampledNegatives?: number;
  split?: 'test' | 'validation';
  splitParams: SplitParams;
  /** Read options for any-data protocols: the config's import section. */
  readOptions: ReadOptions;
}

/**
 * The default protocol: the config's; else P1 (`ml-ls-t20`) on a MovieLens folder or with no data
 * named; else `t20`, P1's rule on whatever data was named (a Last.fm folder, a CSV, a snapshot).
 */
function defaultProtocol(dataDir: string | undefined): string {
  if (dataDir === undefined) return 'ml-ls-t20';
  return existsSync(dataDir) && statSync(dataDir).isDirectory() && isMovieLensDir(dataDir) ? 'ml-ls-t20' : 't20';
}

/**
 * With no data named: the protocol's own reference folder when this checkout has it (P1 and P2 read
 * ../shared/datasets/ml-latest-small), else the bundled demo data (an installed package has no
 * ../shared); the any-data protocols read the demo data.
 */
function fallbackData(protocol: string): string | undefined {
  const def = PROTOCOLS.get(protocol);
  if (def?.defaultDataDir !== undefined && existsSync(def.defaultDataDir)) return undefined;
  return demoDataDir();
}

/**
 * P1 and P2 read their reference folder by their own rules: split and read flags would be ignored
 * there, so they are refused rather than quietly dropped.
 */
function refuseIgnoredFlags(s: EvaluateSettings, flags: EvaluateFlags): void {
  if (ANY_DATA_PROTOCOLS.some((d) => d.id === s.protocol)) return;
  const given = (Object.entries({ 'test-ratio': flags.testRatio, 'last-n': flags.lastN, cut: flags.cut }) as [string, unknown][]).concat(Object.entries(dataFlagOptions(flags)));
  const first = given.find(([, v]) => v !== undefined);
  if (first) throw new ConfigError(`--${first[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to the any-data protocols (${ANY_DATA_PROTOCOLS.map((d) => d.id).join(', ')}), not ${s.protocol}`, first[0]);
}

/** `--cut`: Unix seconds, or an ISO date / date-time (UTC unless it says otherwise). */
export function parseCut(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  // The data layer's own timestamp rule: Unix seconds, or any date Date.parse reads.
  const t = parseTimestamp(v);
  if (!t || Number.isNaN(t.value)) throw new ConfigError(`expected Unix seconds or an ISO date, got "${v}"`, 'cut');
  return t.value;
}

function ratioFlag(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!(x > 0 && x < 1)) throw new ConfigError(`expected a number between 0 and 1, got "${v}"`, 'test-ratio');
  return x;
}

/** Config file values overridden by flags. */
export function evaluateSettings(config: ChorusConfig, flags: EvaluateFlags): EvaluateSettings {
  const ev = config.evaluate ?? {};
  const model = flags.model ?? config.model ?? 'als';
  const protocol = flags.protocol ?? ev.protocol ?? defaultProtocol(flags.data ?? config.data);
  const dataDir = flags.data ?? config.data ?? fallbackData(protocol);
  const modelConfig = { ...(config.models?.[model] ?? {}), ...parseParams(flags.param), ...embedderParam(model, flags.embedder) };
  const privacy = privacyOptions(flags);
  return {
    protocol,
    variant: flags.variant ?? ev.variant,
    model,
    modelConfig: privacy ? withPrivacy(model, modelConfig, privacy) : modelConfig,
    dataDir,
    k: intFlag(flags.k, 'k', 1) ?? ev.k,
    seed: intFlag(flags.seed, 'seed', 0) ?? ev.seed,
    bootstrap: intFlag(flags.bootstrap, 'bootstrap', 0) ?? ev.bootstrap,
    sampledNegatives: intFlag(flags.sampledNegatives, 'sampled-negatives', 1) ?? ev.sampledNegatives,
    split: splitFlag(flags.split),
    readOptions: readOptions(config, dataFlagOptions(flags)),
    splitParams: { testRatio: ratioFlag(flags.testRatio), n: intFlag(flags.lastN, 'last-n', 1), cut: parseCut(flags.cut) },
  };
}

/**
 * `--embedder <spec>` reaches models that embed text (content, hybrid: their `embedder` option);
 * models without text (popularity-genre, als …) ignore it, so one command line can compare them.
 */
function embedderParam(model: string, spec: string | undefined): Record<string, unknown> {
  if (spec === undefined) return {};
  parseEmbedderSpec(spec, 'embedder'); // a malformed spec fails before any work
  const entry = listRecommenders().find((r) => r.name === model);
  return entry && Object.prototype.hasOwnProperty.call(entry.defaults, 'embedder') ? { embedder: spec } : {};
}

function splitFlag(v: string | undefined): 'test' | 'validation' | undefined {
  if (v === undefined || v === 'test' || v === 'validation') return v;
  throw new ConfigError(`expected test or validation, got "${v}"`, 'split');
}

async function runOne(s: EvaluateSettings, model: string, modelConfig: Record<string, unknown>): Promise<ProtocolResult> {
  const fit = progressBar(`fit ${model}`);
  const ev = progressBar('evaluate');
  try {
    return await runProtocol({
      protocol: s.protocol,
      variant: s.variant,
      model,
      modelConfig,
      dataDir: s.dataDir,
      k: s.k,
      seed: s.seed,
      bootstrap: s.bootstrap,
      sampledNegatives: s.sampledNegatives,
      split: s.split,
      splitParams: s.splitParams,
      readOptions: s.readOptions,
      onProgress: (phase, done, total, unit) => {
        if (phase === 'fit') fit.update(done, total, unit);
        else {
          fit.stop();
          ev.update(done, total, unit);
        }
      },
    });
  } finally {
    fit.stop();
    ev.stop();
  }
}

/** The result without per-user arrays (what --json prints). */
function summary(r: ProtocolResult): Omit<ProtocolResult, 'perUser' | 'perUserIds'> {
  const { perUser: _omit, perUserIds: _ids, ...rest } = r;
  return rest;
}

function candidatesLabel(r: ProtocolResult): string {
  const c = r.candidates;
  return c.mode === 'full'
    ? `full ranking of ${c.catalogueSize.toLocaleString('en-US')} candidate items`
    : `SAMPLED: test items + ${c.negatives} random negatives (seed ${c.seed}) — not comparable with full-catalogue figures`;
}

function printResult(r: ProtocolResult): void {
  writeOut(`${r.protocol} (${r.variant}) · ${r.model} · ${r.users} users · ${candidatesLabel(r)}`);
  const rows = Object.entries(r.metrics).map(([name, v]) => {
    const iv = r.intervals?.[name];
    return [name, v, iv ? `[${formatNumber(iv.lo)}, ${formatNumber(iv.hi)}]` : ''] as [string, number, string];
  });
  writeOut(table(['metric', 'value', '95% CI'], rows));
  writeOut(`fit ${r.fitSeconds.toFixed(2)} s · evaluate ${r.evalSeconds.toFixed(2)} s · split ${r.split.train.toLocaleString('en-US')} train / ${r.split.test.toLocaleString('en-US')} test rows`);
  if (r.privacy) writeOut(formatPrivacy(r.privacy));
  writeOut(formatStamp(r.stamp));
  if (r.note) writeOut(`note: ${r.note}`);
}

function printComparison(a: ProtocolResult, b: ProtocolResult, c: PairedComparison): void {
  const key = `ndcg@${a.k}`;
  writeOut(`\npaired comparison on per-user ${key}: ${a.model} − ${b.model} over ${c.n} users`);
  writeOut(
    table(
      ['', 'value'],
      [
        [`mean ${key} ${a.model}`, c.meanA],
        [`mean ${key} ${b.model}`, c.meanB],
        ['mean difference', c.meanDiff],
        ['95% CI (bootstrap)', `[${formatNumber(c.diffInterval.lo)}, ${formatNumber(c.diffInterval.hi)}]`],
        ['paired t', c.t],
        ['p (paired t-test)', c.pValue],
        [`p (sign-flip, ${c.randomizations} draws)`, c.pRandomization],
      ],
    ),
  );
}

export function register(program: Command): void {
  const ids = () => [...PROTOCOLS.keys()].join(', ');
  addPrivacyFlags(addDataFlags(program
    .command('evaluate')))
    .description('evaluate a model under a named protocol (default: P1 ml-ls-t20) and print metrics with their stamp')
    .option('--protocol <id>', `protocol id (${ids() || 'ml-ls-t20'}); default ml-ls-t20 on a MovieLens folder or with no --data, else t20 (P1's rule on any data)`)
    .option('--variant <name>', 'protocol variant: all or pos4 for ml-ls-t20, all or pos (top quarter of the value scale) for t20/random20/last-n/time-cut (default: the first)')
    .option('-m, --model <name>', 'model: popularity, itemknn, userknn, als, bpr, mf, ease, sasrec, gru4rec, hybrid … (default als)')
    .option('-d, --data <path>', "the data: a MovieLens or Last.fm folder, a CSV/TSV/JSONL file or a dataset snapshot (default: config \"data\", else the protocol's reference folder when present, else the bundled demo data)")
    .option('--test-ratio <r>', 't20, random20, time-cut: share held out for test (default 0.2)')
    .option('--last-n <n>', 'last-n: interactions per user held out (default 1)')
    .option('--cut <time>', 'time-cut: Unix seconds or ISO date; interactions at or after it are test (default: the 80 % quantile of time)')
    .option('-k, --k <n>', 'list length K (default 10)')
    .option('--seed <n>', 'seed for fitting, bootstrap and sampling (default 0)')
    .option('--bootstrap <n>', 'bootstrap resamples for 95% intervals (default 1000, 0 = none)')
    .option('--sampled-negatives <n>', 'rank test items among n sampled negatives (non-standard, labelled)')
    .option('--split <part>', 'test (default) or validation: cut from train by the same rule, for tuning')
    .option('-p, --param <key=value...>', 'model hyper-parameter (repeatable), e.g. -p factors=32')
    .option('--embedder <spec>', 'text encoder of content/hybrid models: builtin | default | words | words:<file.json> | onnx:<model or folder> | http:<base url>#<model>')
    .option('--compare <model>', 'also evaluate this model (hyper-parameters from the config file) and compare per-user NDCG, paired')
    .option('--per-user <file>', 'write per-user metrics to a CSV file')
    .action(async function (this: Command) {
      const flags = this.optsWithGlobals<EvaluateFlags>();
      const { config } = loadConfig(flags.config);
      const s = evaluateSettings(config, flags);
      getProtocol(s.protocol); // unknown protocol: fail before any work
      refuseIgnoredFlags(s, flags);
      if (flags.compare !== undefined && flags.compare === s.model) throw new ConfigError('compare with a different model', 'compare');
      const json = Boolean(flags.json);
      await withCleanStdout(json, async () => {
        const a = await runOne(s, s.model, s.modelConfig);
        // An import that dropped many rows says so on stderr too (and in --json's data.warning).
        printLoadWarning({ warning: a.data?.warning });
        let b: ProtocolResult | undefined;
        let cmp: PairedComparison | undefined;
        if (flags.compare !== undefined) {
          b = await runOne(s, flags.compare, { ...(config.models?.[flags.compare] ?? {}) });
          cmp = pairedComparison(a.perUser!.ndcg, b.perUser!.ndcg, { seed: a.seed, samples: s.bootstrap ?? 1000 });
        }
        if (flags.perUser) await writePerUser(flags.perUser, a, b);
        if (json) {
          writeJson(b && cmp ? { ...summary(a), comparison: { ...summary(b), paired: { metric: `ndcg@${a.k}`, ...cmp } } } : summary(a));
        } else {
          printResult(a);
          if (b && cmp) {
            writeOut('');
            printResult(b);
            printComparison(a, b, cmp);
          }
        }
      });
    });
}

async function writePerUser(path: string, a: ProtocolResult, b?: ProtocolResult): Promise<void> {
  const p = a.perUser!;
  const head = ['user', 'nTest', 'hits', 'precision', 'recall', 'f1', 'ndcg', 'ap', 'rr', 'hr', 'novelty', 'ild'];
  if (b) head.push(`ndcg_${b.model}`);
  const lines = [head.join(',')];
  for (let j = 0; j < p.user.length; j++) {
    const row: (number | string)[] = [a.perUserIds?.[j] ?? p.user[j]!, p.nTest[j]!, p.hits[j]!, p.precision[j]!, p.recall[j]!, p.f1[j]!, p.ndcg[j]!, p.ap[j]!, p.rr[j]!, p.hr[j]!, p.novelty[j]!, p.ild[j]!];
    if (b) row.push(b.perUser!.ndcg[j]!);
    lines.push(row.map((v) => (typeof v === 'number' && Number.isNaN(v) ? '' : String(v))).join(','));
  }
  await writeFile(path, `${lines.join('\n')}\n`, 'utf8');
}
