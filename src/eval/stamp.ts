/**
 * The reporting stamp of ../shared/PROTOCOLS.md ("Reporting"): every result names its protocol,
 * dataset file and sha256 prefix, variant, K, seed(s), model and hyper-parameters, code version
 * and wall time, so a figure can be traced back and compared only with like figures.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PrivacyReport } from '../privacy/config.js';

export interface ReportStamp {
  /** Protocol id, e.g. "ml-ls-t20"; a non-standard candidate set is named here too. */
  protocol: string;
  dataset: {
    /** The dataset's own name (ml-latest-small, the folder or file name, or the snapshot's). */
    name?: string;
    file: string;
    /** First 12 hex digits of the file's sha256. */
    sha256: string;
  };
  variant: string;
  k: number;
  seeds: number[];
  model: string;
  hyperparameters: Record<string, unknown>;
  /** Git commit (short, "-dirty" when the tree has uncommitted changes), else "chorus-rec@<version>" (the package's name and version). */
  codeVersion: string;
  wallSeconds: number;
  /** ISO date-time the run finished. */
  date: string;
  /** Present when the model trained with differential privacy: the (ε, δ) it spent, the unit and mechanism. */
  privacy?: PrivacyReport;
}

export const SHA_PREFIX = 12;

/** sha256 of a file, hex, streamed (a large file is never read into one string). */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await new Promise<void>((res, rej) => {
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => res())
      .on('error', rej);
  });
  return hash.digest('hex');
}

/** Repository/package root: two levels above this file (src/eval or dist/eval). */
function packageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

let cachedVersion: string | undefined;

/** Code version for the stamp; computed once per process. */
export function codeVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  const root = packageRoot();
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 })
      .toString()
      .trim();
    let dirty = '';
    try {
      const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString();
      if (status.trim() !== '') dirty = '-dirty';
    } catch {
      // status unavailable: report the commit alone
    }
    if (/^[0-9a-f]+$/.test(commit)) {
      cachedVersion = commit + dirty;
      return cachedVersion;
    }
  } catch {
    // not a git checkout (installed package): fall back to the package version below
  }
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: string; version?: string };
    cachedVersion = `${pkg.name ?? 'chorus-rec'}@${pkg.version ?? 'unknown'}`;
  } catch {
    cachedVersion = 'chorus-rec@unknown';
  }
  return cachedVersion;
}

/** One line naming everything a figure depends on, printed under every human table. */
export function formatStamp(s: ReportStamp): string {
  const hp = Object.entries(s.hyperparameters)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(',');
  return (
    `protocol ${s.protocol} variant ${s.variant} K=${s.k} seed=${s.seeds.join('/')} | data ${s.dataset.name ? `${s.dataset.name} ` : ''}${s.dataset.file} sha256:${s.dataset.sha256} | ` +
    `model ${s.model}${hp ? `{${hp}}` : ''}${s.privacy ? ` | ${formatPrivacy(s.privacy)}` : ''} | code ${s.codeVersion} | wall ${s.wallSeconds.toFixed(2)} s | ${s.date}`
  );
}

/** "privacy ε=… δ=… user-level dp-sgd": the budget a DP model spent, as the stamp prints it. */
export function formatPrivacy(p: PrivacyReport): string {
  return `privacy ε=${p.epsilon.toPrecision(4)} δ=${p.delta.toPrecision(3)} ${p.unit}-level ${p.mechanism}`;
}
