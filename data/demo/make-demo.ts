/**
 * Writes the bundled demo data (data/demo/*.csv) from the seeded generator in ./generate.ts.
 * Run from the repository root: npx tsx data/demo/make-demo.ts
 * Deterministic: every run writes the same bytes (test/data/demo.test.ts checks the committed files).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDemo } from './generate.js';

const out = dirname(fileURLToPath(import.meta.url));
const files = generateDemo();
for (const [name, text] of Object.entries(files)) writeFileSync(join(out, name), text);
const rows = (s: string) => s.split('\n').length - 2;
console.log(`wrote ${rows(files['ratings.csv'])} ratings, ${rows(files['movies.csv'])} movies, ${rows(files['tags.csv'])} tags to ${out}`);
