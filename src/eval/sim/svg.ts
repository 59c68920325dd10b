/**
 * Minimal SVG charts for simulator reports: line charts with confidence bands and bar charts
 * with error bars. Plain strings, no dependencies; fixed palette, axes with a few round ticks.
 */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939', '#8c6d31', '#843c39'];

export interface LineSeries {
  name: string;
  x: number[];
  y: number[];
  lo?: number[];
  hi?: number[];
}

export interface BarItem {
  name: string;
  value: number;
  lo?: number;
  hi?: number;
}

const W = 640;
const H = 360;
const M = { l: 64, r: 160, t: 36, b: 48 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(+v.toFixed(10));
  return out;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a >= 10000) return `${(v / 1000).toFixed(0)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(2).replace(/\.?0+$/, '');
  return v.toFixed(3).replace(/\.?0+$/, '');
}

function frame(title: string, xLabel: string, yLabel: string, body: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.l}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
    body,
    `<text x="${M.l + (W - M.l - M.r) / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(16 ${M.t + (H - M.t - M.b) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
    '</svg>',
  ].join('\n');
}

/** Lines with optional shaded [lo, hi] bands (e.g. 95 % intervals over seeds). */
export function lineChart(title: string, xLabel: string, yLabel: string, series: LineSeries[]): string {
  const xs = series.flatMap((s) => s.x).filter(Number.isFinite);
  const ys = series.flatMap((s) => [...s.y, ...(s.lo ?? []), ...(s.hi ?? [])]).filter(Number.isFinite);
  if (xs.length === 0 || ys.length === 0) return frame(title, xLabel, yLabel, `<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text>`);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs) > x0 ? Math.max(...xs) : x0 + 1;
  let y0 = Math.min(...ys);
  let y1 = Math.max(...ys);
  if (y1 === y0) (y0 -= 1), (y1 += 1);
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const px = (x: number): number => M.l + ((x - x0) / (x1 - x0)) * (W - M.l - M.r);
  const py = (y: number): number => H - M.b - ((y - y0) / (y1 - y0)) * (H - M.t - M.b);
  const parts: string[] = [];
  for (const t of niceTicks(y0, y1)) parts.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/><text x="${M.l - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  for (const t of niceTicks(x0, x1)) parts.push(`<text x="${px(t)}" y="${H - M.b + 16}" text-anchor="middle">${fmt(t)}</text>`);
  parts.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}" stroke="#333"/><line x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${H - M.b}" stroke="#333"/>`);
  series.forEach((s, k) => {
    const c = PALETTE[k % PALETTE.length]!;
    const idx = s.x.map((_, j) => j).filter((j) => Number.isFinite(s.y[j]!));
    if (s.lo && s.hi) {
      const band = idx.filter((j) => Number.isFinite(s.lo![j]!) && Number.isFinite(s.hi![j]!));
      if (band.length > 1) {
        const up = band.map((j) => `${px(s.x[j]!).toFixed(1)},${py(s.hi![j]!).toFixed(1)}`);
        const down = band.reverse().map((j) => `${px(s.x[j]!).toFixed(1)},${py(s.lo![j]!).toFixed(1)}`);
        parts.push(`<polygon points="${[...up, ...down].join(' ')}" fill="${c}" fill-opacity="0.18" stroke="none"/>`);
      }
    }
    if (idx.length > 0) parts.push(`<polyline points="${idx.map((j) => `${px(s.x[j]!).toFixed(1)},${py(s.y[j]!).toFixed(1)}`).join(' ')}" fill="none" stroke="${c}" stroke-width="2"/>`);
    const ly = M.t + 8 + k * 18;
    parts.push(`<rect x="${W - M.r + 12}" y="${ly - 8}" width="12" height="12" fill="${c}"/><text x="${W - M.r + 30}" y="${ly + 2}">${esc(s.name)}</text>`);
  });
  return frame(title, xLabel, yLabel, parts.join('\n'));
}

/** Vertical bars with optional [lo, hi] error bars. */
export function barChart(title: string, yLabel: string, bars: BarItem[]): string {
  const vals = bars.flatMap((b) => [b.value, b.lo ?? b.value, b.hi ?? b.value]).filter(Number.isFinite);
  let y0 = Math.min(0, ...vals);
  let y1 = Math.max(0, ...vals);
  if (y1 === y0) y1 = y0 + 1;
  y1 += (y1 - y0) * 0.05;
  const py = (y: number): number => H - M.b - ((y - y0) / (y1 - y0)) * (H - M.t - M.b);
  const plotW = W - M.l - 24;
  const bw = plotW / Math.max(1, bars.length);
  const parts: string[] = [];
  for (const t of niceTicks(y0, y1)) parts.push(`<line x1="${M.l}" x2="${W - 24}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/><text x="${M.l - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  bars.forEach((b, k) => {
    const c = PALETTE[k % PALETTE.length]!;
    const x = M.l + k * bw + bw * 0.15;
    const w = bw * 0.7;
    const top = py(Math.max(0, b.value));
    const h = Math.abs(py(b.value) - py(0));
    if (Number.isFinite(b.value)) parts.push(`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="${c}"><title>${esc(b.name)}: ${fmt(b.value)}</title></rect>`);
    if (b.lo !== undefined && b.hi !== undefined && Number.isFinite(b.lo) && Number.isFinite(b.hi)) {
      const cx = x + w / 2;
      parts.push(`<line x1="${cx}" x2="${cx}" y1="${py(b.lo)}" y2="${py(b.hi)}" stroke="#222"/><line x1="${cx - 5}" x2="${cx + 5}" y1="${py(b.lo)}" y2="${py(b.lo)}" stroke="#222"/><line x1="${cx - 5}" x2="${cx + 5}" y1="${py(b.hi)}" y2="${py(b.hi)}" stroke="#222"/>`);
    }
    parts.push(`<text x="${(x + w / 2).toFixed(1)}" y="${H - M.b + 16}" text-anchor="middle" font-size="11">${esc(b.name)}</text>`);
  });
  parts.push(`<line x1="${M.l}" x2="${W - 24}" y1="${py(0)}" y2="${py(0)}" stroke="#333"/>`);
  return frame(title, 'agent', yLabel, parts.join('\n'));
}
