/**
 * A report folder for one or more simulator runs on the same preset: report.md (protocol line,
 * settings, a table with 95 % intervals over seeds), results.json, and SVG plots — learning
 * curves with confidence bands, and bars of return, CTR, session length, exposure Gini and
 * cold-item exposure share per agent.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { barChart, lineChart } from './svg.js';
import type { SimulationResult } from './simulate.js';

export interface ReportStampInfo {
  /** Code version and date — whatever the caller knows (the data's name and hash come from the runs). */
  commit?: string;
  date?: string;
}

function f(x: number, d = 3): string {
  return Number.isFinite(x) ? x.toFixed(d) : '—';
}

function ci(m: { mean: number; ci95: [number, number] }, d = 3): string {
  return `${f(m.mean, d)} [${f(m.ci95[0], d)}, ${f(m.ci95[1], d)}]`;
}

export async function writeSimReport(dir: string, runs: SimulationResult[], stamp: ReportStampInfo = {}): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const put = async (name: string, text: string): Promise<void> => {
    await writeFile(join(dir, name), text, 'utf8');
    files.push(join(dir, name));
  };
  const learners = runs.filter((r) => r.curve.steps.length > 0);
  await put(
    'learning-curves.svg',
    lineChart(
      `Training return per session (${runs[0]?.preset ?? ''}, mean and 95% CI over seeds)`,
      'training user-steps',
      `discounted return (γ=${runs[0]?.gamma ?? ''})`,
      learners.map((r) => ({ name: r.agent, x: r.curve.steps, y: r.curve.mean, lo: r.curve.lo, hi: r.curve.hi })),
    ),
  );
  const bars = (key: 'ctr' | 'sessionLength' | 'exposureGini' | 'coldExposureShare') =>
    runs.map((r) => ({ name: r.agent, value: r.intervals[key].mean, lo: r.intervals[key].ci95[0], hi: r.intervals[key].ci95[1] }));
  await put('return.svg', barChart('Mean discounted return per session (95% CI over seeds)', 'return', runs.map((r) => ({ name: r.agent, value: r.return.mean, lo: r.return.ci95[0], hi: r.return.ci95[1] }))));
  await put('ctr.svg', barChart('Click-through rate (clicks per slate)', 'CTR', bars('ctr')));
  await put('session-length.svg', barChart('Mean session length (steps)', 'steps', bars('sessionLength')));
  await put('exposure-gini.svg', barChart('Exposure Gini over the catalogue', 'Gini', bars('exposureGini')));
  await put('cold-exposure.svg', barChart('Share of exposure on cold items', 'share', bars('coldExposureShare')));
  const r0 = runs[0]!;
  const lines = [
    `# Simulation report: ${r0.preset}`,
    '',
    `Protocol P3 · preset \`${r0.preset}\` v${r0.presetVersion} · dataset ${r0.data.name} (sha256 ${r0.data.sha256.slice(0, 12)}${r0.data.valueMapping === 'identity' ? '' : `, values mapped to 0.5–5 stars by ${r0.data.valueMapping}`}) · hidden model on the full data, agents on ${r0.data.split === 't20' ? "P1's train split" : 'a seeded random 80 % (no timestamps)'} · K = 10 · γ = ${r0.gamma} · λ = ${r0.lambda} · α = ${r0.alpha}${stamp.commit ? ` · code ${stamp.commit}` : ''}${stamp.date ? ` · ${stamp.date}` : ''}`,
    '',
    '| agent | train steps/seed | seeds | eval sessions/seed | return (95% CI) | CTR | session length | exposure Gini | cold share | wall s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...runs.map(
      (r) =>
        `| ${r.agent} | ${r.trainSteps.toLocaleString('en-US')} | ${r.seeds} | ${r.evalSessions} | ${ci(r.return)} | ${ci(r.intervals.ctr)} | ${ci(r.intervals.sessionLength, 2)} | ${ci(r.intervals.exposureGini)} | ${ci(r.intervals.coldExposureShare)} | ${f(r.wallSeconds, 1)} |`,
    ),
    '',
    'Reward parts per step (mean over seeds): ' + runs.map((r) => `${r.agent}: R ${f(r.parts.R)}, G ${f(r.parts.G)}, A ${f(r.parts.A)}`).join('; '),
    '',
    'Agent settings: ' + runs.map((r) => `\`${r.agent}\` ${JSON.stringify(r.agentConfig)}`).join('; '),
    '',
    '![learning curves](learning-curves.svg)',
    '',
    '![return](return.svg) ![ctr](ctr.svg)',
    '',
    '![session length](session-length.svg) ![exposure gini](exposure-gini.svg) ![cold exposure](cold-exposure.svg)',
    '',
    'Intervals are Student-t 95 % intervals over seeds; each seed evaluates the trained agent (no exploration, no learning) on the first',
    `${r0.evalSessions} sessions it starts. Learning curves show the return of training sessions (with exploration) per window.`,
    '',
  ];
  await put('report.md', lines.join('\n'));
  await put('results.json', JSON.stringify(runs, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2));
  return files;
}
