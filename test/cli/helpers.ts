import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { Rng } from '../../src/util/rng.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in-process, capturing what it writes to stdout and stderr. */
export async function runCli(args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(['node', 'chorus', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

export function tempDir(prefix = 'chorus-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A small MovieLens-format folder (ratings.csv + movies.csv): `users` users with 10–19 ratings
 * each over `items` movies, items drawn with a popularity skew so that models have signal.
 */
export function writeTinyMovieLens(dir: string, users = 30, items = 60, seed = 1): void {
  const rng = new Rng(seed);
  const lines = ['userId,movieId,rating,timestamp'];
  for (let u = 1; u <= users; u++) {
    const n = 10 + rng.int(10);
    const seen = new Set<number>();
    while (seen.size < n) seen.add(1 + Math.floor(items * rng.next() ** 2));
    let t = 1_000_000_000 + u * 1000;
    for (const i of [...seen].sort((a, b) => a - b)) {
      t += 1 + rng.int(50);
      lines.push(`${u},${i},${(1 + rng.int(9)) / 2 + 0.5},${t}`);
    }
  }
  writeFileSync(join(dir, 'ratings.csv'), `${lines.join('\n')}\n`);
  const genres = ['Action', 'Comedy', 'Drama', 'Romance', 'Sci-Fi'];
  const movies = ['movieId,title,genres'];
  for (let i = 1; i <= items; i++) movies.push(`${i},"Movie ${i}, The (${1950 + i})",${genres[i % 5]}|${genres[(i * 3) % 5]}`);
  writeFileSync(join(dir, 'movies.csv'), `${movies.join('\n')}\n`);
}
