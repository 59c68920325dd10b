/**
 * `chorus forget --user <id> --data <store or dataset>`: erasure offline.
 *
 * - A store (`sqlite:…`, `postgres://…`, or a path ending in .db), with its server stopped (a
 *   running `chorus serve` marks its store, and the command refuses while the mark is fresh: a
 *   running server would bring the user back from its memory; erase through it instead): the
 *   same transaction as `DELETE /users/:id` (the user's decisions, feedback, catalogue row, their
 *   row in every stored snapshot, an audit record without personal data), plus a tombstone that
 *   keeps them out of the server's base data files at its next start, and the online policy's
 *   checkpoint reset so that the next start relearns it from the log without them
 *   (src/serve/erasure.ts, eraseFromStore). On a pseudonymised store the key (CHORUS_ID_KEY) turns
 *   the id into the stored pseudonym; a wrong key is refused.
 * - A dataset snapshot (.chorus-dataset): rewritten without the user (in place, or to --out).
 * - A raw dataset folder or file (CSV, ratings.dat, JSONL …): the originals are not edited (their
 *   formats are many and a partial rewrite would be worse than none); a filtered dataset snapshot
 *   is written to --out, which `chorus serve --data` and every other command read, and the
 *   command says to replace the originals with it.
 */
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import type { Command } from 'commander';
import { isSnapshotFile, loadDatasetFile, saveDataset } from '../../data/snapshot.js';
import { ChorusError, ConfigError } from '../../errors.js';
import { withoutUsers } from '../../privacy/erasure.js';
import { checkIdMode, datasetIdMode, ID_KEY_ENV, pseudonymiserFromEnv, RAW_IDS } from '../../privacy/pseudonym.js';
import { checkNoServer, eraseFromStore, ID_MODE_KEY } from '../../serve/erasure.js';
import { openStore } from '../../store/open.js';
import { loadConfig } from '../config.js';
import { loadData, readOptions } from '../data.js';
import { writeJson, writeOut } from '../output.js';

interface ForgetFlags {
  user: string;
  data: string;
  out?: string;
  pseudonymise?: boolean;
  json?: boolean;
  config?: string;
}

/** A `--data` value that names a store rather than a dataset. */
function storeUrl(data: string): string | null {
  if (/^(sqlite|postgres|postgresql):/.test(data)) return data;
  if (/\.(db|sqlite|sqlite3)$/i.test(data)) return `sqlite:${data}`;
  return null;
}

async function forgetInStore(url: string, user: string): Promise<Record<string, unknown>> {
  if (url.startsWith('sqlite:') && !existsSync(url.slice('sqlite:'.length).split('?')[0]!)) {
    throw new ConfigError(`no store at ${url}`, 'data');
  }
  const store = openStore(url);
  try {
    await checkNoServer(store);
    const mode = (await store.state.getState(ID_MODE_KEY))?.toString('utf8') ?? RAW_IDS;
    let stored = user;
    if (mode !== RAW_IDS) {
      const p = pseudonymiserFromEnv();
      checkIdMode(mode, p.mode, `the store ${store.url}`);
      stored = p.of(user);
    }
    const record = await eraseFromStore(store, stored);
    // Nothing held the user: nothing was written (no audit record, the policy checkpoint kept).
    if (!record) throw new ChorusError('E_NOT_FOUND', `user "${user}" is not in ${store.url}${mode !== RAW_IDS ? ' (looked up by pseudonym)' : ''}; nothing was changed`, { status: 404, location: { field: 'user' } });
    return { store: store.url, pseudonymised: mode !== RAW_IDS, erasure: record };
  } finally {
    await store.close();
  }
}

export function register(program: Command): void {
  program
    .command('forget')
    .description('erase a user offline from a store (server stopped) or a dataset: their rows, snapshot rows and history; an audit record without personal data (docs/privacy.md)')
    .requiredOption('--user <id>', 'the user id as the client knows it (on a pseudonymised store or with --pseudonymise, its pseudonym is computed with the key)')
    .requiredOption('-d, --data <store or dataset>', 'a store URL (sqlite:path, postgres://…, or a .db file), a .chorus-dataset snapshot, or a dataset folder or file')
    .option('-o, --out <file>', 'where the filtered dataset snapshot goes (needed for a raw dataset folder or file; default for a snapshot: rewrite it in place)')
    .option('--pseudonymise', `a dataset imported with --pseudonymise: look the user up by pseudonym (key from ${ID_KEY_ENV})`)
    .action(async function (this: Command) {
      const flags = this.optsWithGlobals<ForgetFlags>();
      if (flags.user === '') throw new ConfigError('the user id is empty', 'user');
      const url = storeUrl(flags.data);
      if (url) {
        const r = await forgetInStore(url, flags.user);
        if (flags.json) writeJson(r);
        else {
          const e = r.erasure as { id: string; counts: Record<string, number> };
          writeOut(`erasure ${e.id} in ${r.store as string}: ${Object.entries(e.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
          if (e.counts.policyReset) writeOut('the online policy will be relearned from the log at the next start');
        }
        return;
      }
      if (!existsSync(flags.data)) throw new ConfigError(`no such store, file or folder: ${flags.data}`, 'data');
      const isSnapshot = await isSnapshotFile(flags.data).catch(() => false);
      if (!isSnapshot && !flags.out) {
        throw new ConfigError(
          `${flags.data} is a raw dataset: chorus forget does not edit the original files; give --out <file>.chorus-dataset for a filtered copy, then replace the originals with it (chorus serve --data and every command read it)`,
          'out',
        );
      }
      const { config } = loadConfig(flags.config);
      const ds = isSnapshot ? await loadDatasetFile(flags.data) : (await loadData(flags.data, readOptions(config, {}))).dataset;
      // A snapshot written by `chorus import --pseudonymise` records its key's mode: its ids are
      // looked up by pseudonym with or without the flag, and a wrong key is refused.
      const mode = datasetIdMode(ds);
      const p = flags.pseudonymise || mode !== RAW_IDS ? pseudonymiserFromEnv() : null;
      if (p && mode !== RAW_IDS) checkIdMode(mode, p.mode, flags.data);
      const id = p ? p.of(flags.user) : flags.user;
      const r = withoutUsers(ds, (u) => u === id);
      if (r.users === 0) throw new ChorusError('E_NOT_FOUND', `user "${flags.user}" is not in ${flags.data}${p ? ' (looked up by pseudonym)' : ''}`, { status: 404, location: { field: 'user' } });
      const out = flags.out ?? flags.data;
      // Written beside, then renamed: a crash never leaves half a dataset (nor the original half-overwritten).
      const tmp = `${out}.tmp-${process.pid}`;
      await saveDataset(r.dataset, tmp);
      await rename(tmp, out);
      const result = { dataset: out, removed: { users: r.users, interactions: r.interactions }, originalsKept: !isSnapshot };
      if (flags.json) writeJson(result);
      else {
        writeOut(`removed the user and ${r.interactions} interactions; wrote ${out}`);
        if (!isSnapshot) writeOut(`the original files in ${flags.data} still hold the user: replace them with ${out}`);
      }
    });
}
