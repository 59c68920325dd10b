/**
 * How commands print: human tables by default, one JSON document with `--json`. In JSON mode the
 * document is the only thing on stdout — anything else a library might log goes to stderr.
 */

/** Render rows as an aligned text table; numbers are right-aligned. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)));
  const numeric = headers.map((_, j) => rows.length > 0 && rows.every((r) => typeof r[j] === 'number'));
  const width = headers.map((h, j) => Math.max(h.length, ...cells.map((r) => (r[j] ?? '').length)));
  const pad = (s: string, j: number) => (numeric[j] ? s.padStart(width[j]!) : s.padEnd(width[j]!));
  const line = (r: readonly string[]) => r.map((c, j) => pad(c, j)).join('  ').trimEnd();
  return [line(headers), width.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** Four significant decimals for metrics, fewer digits for big numbers. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? '—' : String(x);
  if (Number.isInteger(x)) return x.toLocaleString('en-US');
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(1);
  if (a >= 1) return x.toFixed(3);
  if (a > 0 && a < 1e-3) return x.toExponential(2); // p-values: keep the magnitude
  return x.toFixed(4);
}

export function writeOut(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function writeErr(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Print one JSON document on stdout (typed arrays as plain arrays, NaN/Infinity as null). */
export function writeJson(value: unknown): void {
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
    if (typeof v === 'number' && !Number.isFinite(v)) return null;
    return v;
  });
  process.stdout.write(`${text}\n`);
}

/**
 * While `fn` runs in JSON mode, route console.log/info/debug to stderr so the JSON document stays
 * the only thing on stdout whatever a dependency prints.
 */
export async function withCleanStdout<T>(json: boolean, fn: () => Promise<T>): Promise<T> {
  if (!json) return fn();
  const saved = { log: console.log, info: console.info, debug: console.debug };
  console.log = console.info = console.debug = (...args: unknown[]) => console.error(...args);
  try {
    return await fn();
  } finally {
    console.log = saved.log;
    console.info = saved.info;
    console.debug = saved.debug;
  }
}

/** The report line of a differentially private fit (evaluate and train print the same). */
export function formatPrivacy(p: { epsilon: number; delta: number; unit: string; mechanism: string; noiseMultiplier: number }): string {
  return `privacy: (ε = ${formatNumber(p.epsilon)}, δ = ${p.delta.toPrecision(3)}) spent, ${p.unit}-level, ${p.mechanism}, noise multiplier ${formatNumber(p.noiseMultiplier)} (docs/privacy.md)`;
}
