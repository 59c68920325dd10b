/** Where the package lives (src/cli or dist/cli → two levels up), its version and bundled data. */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The bundled demo dataset: a generated film catalogue that ships in the package (data/demo/README.md). */
export function demoDataDir(): string {
  return join(packageRoot(), 'data', 'demo');
}
