/**
 * The top self-time functions of a V8 CPU profile (`node --cpu-prof`), as a markdown table: where a
 * process spent its time, for docs/benchmarks.md. Self time is the samples whose top frame is the
 * function; "(program)", "(idle)" and "(garbage collector)" are V8's own buckets.
 *
 *   node --import tsx bench/cpuprofile-top.ts <file.cpuprofile | dir> [--top 25] [--busy]
 *
 * A directory reads its newest .cpuprofile. --busy leaves "(idle)" out of the shares, so that they
 * are shares of the time the process was working.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { numArg } from './args.js';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function newest(dir: string): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (files.length === 0) throw new Error(`no .cpuprofile in ${dir}`);
  return files[0]!;
}

const arg = process.argv[2];
if (!arg) throw new Error('usage: bench/cpuprofile-top.ts <file.cpuprofile | dir> [--top 25] [--busy]');
const file = statSync(arg).isDirectory() ? newest(arg) : arg;
const top = numArg('top', 25);
const busy = process.argv.includes('--busy');
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  const n = byId.get(p.samples[i]!)!;
  const dt = p.timeDeltas[i] ?? 0;
  const f = n.callFrame;
  if (busy && f.functionName === '(idle)') continue;
  const where = f.url ? `${relative(process.cwd(), f.url.replace(/^file:\/\//, ''))}:${f.lineNumber + 1}` : '';
  const key = `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
  self.set(key, (self.get(key) ?? 0) + dt);
  total += dt;
}
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
process.stdout.write(`${file}: ${(total / 1e6).toFixed(2)} s sampled${busy ? ' (idle left out)' : ''}\n\n`);
process.stdout.write('| function | self ms | share |\n| --- | ---: | ---: |\n');
for (const [k, v] of rows) process.stdout.write(`| ${k.replace(/\|/g, '\\|')} | ${(v / 1000).toFixed(0)} | ${((100 * v) / total).toFixed(1)} % |\n`);
