/**
 * `chorus import <path>`: read and validate an interaction file or a dataset folder, clean it by
 * the chosen policies, print the column mapping used, the value scale and the cleaning report,
 * and write a dataset snapshot that every other command reads back fast.
 */
import { mkdir } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { ReadOptions } from '../../data/read-interactions.js';
import { formatCleaningReport } from '../../data/report.js';
import { saveDataset } from '../../data/snapshot.js';
import { activeCounts } from '../../data/split.js';
import { loadConfig } from '../config.js';
import { addDataFlags, dataFlagOptions, loadData, numberFlag, oneOf, readOptions, type DataFlags } from '../data.js';
import { withCleanStdout, writeJson, writeOut } from '../output.js';
import { ID_KEY_ENV, pseudonymiseDataset, pseudonymiserFromEnv } from '../../privacy/pseudonym.js';

interface ImportFlags extends DataFlags {
  duplicates?: string;
  missing?: string;
  fillValue?: string;
  strict?: boolean;
  out?: string;
  config?: string;
  json?: boolean;
  pseudonymise?: boolean;
}

export function register(program: Command): void {
  const command = program
    .command('import')
    .description('validate and clean an interaction file or dataset folder, print the column mapping and cleaning report, write a snapshot')
    .argument('<path>', 'MovieLens/Last.fm folder, or a CSV/TSV/JSONL/ratings.dat/u.data file');
  addDataFlags(command)
    .option('--duplicates <policy>', 'repeated (user, item): first, last, sum, keep, error (default last)')
    .option('--missing <policy>', 'empty values: drop, mean, median, constant, error (default drop)')
    .option('--fill-value <x>', 'value used by --missing constant')
    .option('--no-strict', 'drop and report malformed rows instead of stopping at the first')
    .option('-o, --out <file>', 'snapshot path (default: <name>.chorus-dataset in the working directory)')
    .option('--pseudonymise', `write keyed HMAC pseudonyms instead of user ids (key from ${ID_KEY_ENV}; the same key as chorus serve --pseudonymise gives the same pseudonyms)`)
    .action(async function (this: Command, path: string) {
      const flags = this.optsWithGlobals<ImportFlags>();
      const { config } = loadConfig(flags.config);
      const overrides: ReadOptions = {
        ...dataFlagOptions(flags),
        duplicates: oneOf(flags.duplicates, ['first', 'last', 'sum', 'keep', 'error'] as const, 'duplicates'),
        missingValue: oneOf(flags.missing, ['drop', 'mean', 'median', 'constant', 'error'] as const, 'missing'),
        fillValue: numberFlag(flags.fillValue, 'fill-value'),
        strict: flags.strict === false ? false : undefined,
      };
      const json = Boolean(flags.json);
      const pseudonyms = flags.pseudonymise ? pseudonymiserFromEnv() : null;
      await withCleanStdout(json, async () => {
        const loaded = await loadData(path, readOptions(config, overrides));
        const { report, metadataReports, warning } = loaded;
        // At the edge: the snapshot written below never holds a raw user id.
        const dataset = pseudonyms ? pseudonymiseDataset(loaded.dataset, pseudonyms) : loaded.dataset;
        const out = resolve(flags.out ?? config.import?.out ?? `${basename(dataset.name) || 'dataset'}.chorus-dataset`);
        await mkdir(dirname(out), { recursive: true });
        await saveDataset(dataset, out);
        const active = activeCounts(dataset);
        const summary = { name: dataset.name, users: active.users, items: active.items, interactions: dataset.nInteractions, eventTypes: dataset.eventTypes };
        if (json) {
          writeJson({
            dataset: summary,
            columns: report.columns ?? null,
            valueScale: report.valueScale ?? null,
            warnings: warning ? [warning] : [],
            report,
            metadataReports,
            snapshot: out,
            pseudonymised: pseudonyms !== null,
          });
          return;
        }
        writeOut(formatCleaningReport(report));
        for (const r of metadataReports) writeOut(formatCleaningReport(r));
        writeOut(
          `dataset "${summary.name}": ${summary.users.toLocaleString('en-US')} users, ${summary.items.toLocaleString('en-US')} items, ` +
            `${summary.interactions.toLocaleString('en-US')} interactions`,
        );
        writeOut(`snapshot written to ${out}${pseudonyms ? ' (user ids pseudonymised)' : ''}`);
      });
    });
}
