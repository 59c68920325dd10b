/**
 * The Open Bandit Dataset (Saito et al. 2021; ../shared/datasets/open-bandit-sample, see its
 * README-obd.md): `{random,bts}/{men,women}/{campaign}.csv`, one row per (impression, position),
 * with the item shown (`item_id`), its `position` (1–3), `click`, the logging policy's probability
 * of that item at that position (`propensity_score`), four hashed user features and one
 * user-item affinity per item; `item_context.csv` beside it holds four features per item.
 *
 * As a bandit log: every campaign item is a candidate of every row, the shown item is the logged
 * action. Features for the reward models: the row's context (one-hot user features and one-hot
 * position), each candidate's affinity with the row's user, each item's features (the numeric
 * feature 0 and one-hot categorical features 1–3).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError } from '../errors.js';
import type { OpeDataset } from './logs.js';

/** The sample's folder: ../shared of the checkout (src/ope → ../../../shared, also from dist/ope). */
export const OBD_SAMPLE_DIR = fileURLToPath(new URL('../../../shared/datasets/open-bandit-sample', import.meta.url));

export interface ObdLog {
  campaign: string;
  /** The CSV read. */
  file: string;
  sha256: string;
  nItems: number;
  item: Int32Array;
  click: Uint8Array;
  /** 1-based position of the row. */
  position: Int32Array;
  propensity: Float64Array;
  /** Four categorical user features per row. */
  user: string[][];
  /** Affinity, nItems per row. */
  affinity: Float64Array;
  /** Per item: numeric feature 0 and categorical features 1–3. */
  itemNum: Float64Array;
  itemCat: string[][];
}

interface Csv {
  header: string[];
  rows: string[][];
  /** 1-based file line of each row. */
  lines: number[];
}

function readCsv(path: string): Csv & { text: string } {
  if (!existsSync(path)) throw new DataError('file not found', { file: path }, 'E_NOT_FOUND');
  const text = readFileSync(path, 'utf8');
  const all = text.split('\n');
  const rows: string[][] = [];
  const lines: number[] = [];
  for (let k = 1; k < all.length; k++) {
    const l = all[k]!.replace(/\r$/, '');
    if (l.length === 0) continue;
    rows.push(l.split(','));
    lines.push(k + 1);
  }
  return { header: (all[0] ?? '').replace(/\r$/, '').split(','), rows, lines, text };
}

function column(csv: Csv, name: string, file: string): number {
  const i = csv.header.indexOf(name);
  if (i < 0) throw new DataError(`no column "${name}"`, { file, line: 1, field: name });
  return i;
}

/** The campaign's CSV of one logging policy: `<root>/<policy>/<campaign>/<campaign>.csv`. */
export function obdCsvPath(campaign: string, policy: 'random' | 'bts' = 'random', root = OBD_SAMPLE_DIR): string {
  return join(root, policy, campaign, `${campaign}.csv`);
}

/** Read one OBD campaign CSV (and the item_context.csv in its folder). Errors name file, line and column. */
export function readObd(csvPath: string): ObdLog {
  const ctxPath = join(dirname(csvPath), 'item_context.csv');
  const ctx = readCsv(ctxPath);
  const num = (csv: Csv, r: number, c: number, file: string, field: string, integer = false): number => {
    const s = csv.rows[r]![c];
    const x = s === undefined || s === '' ? NaN : Number(s);
    if (!Number.isFinite(x) || (integer && !Number.isInteger(x))) throw new DataError(`expected ${integer ? 'an integer' : 'a number'}, got "${s ?? ''}"`, { file, line: csv.lines[r], field });
    return x;
  };
  const nItems = ctx.rows.length;
  const itemNum = new Float64Array(nItems);
  const itemCat: string[][] = new Array<string[]>(nItems);
  const cId = column(ctx, 'item_id', ctxPath);
  const cF = [0, 1, 2, 3].map((k) => column(ctx, `item_feature_${k}`, ctxPath));
  for (let r = 0; r < nItems; r++) {
    const id = num(ctx, r, cId, ctxPath, 'item_id', true);
    if (id < 0 || id >= nItems) throw new DataError(`item_id ${id} outside 0..${nItems - 1}`, { file: ctxPath, line: ctx.lines[r], field: 'item_id' });
    itemNum[id] = num(ctx, r, cF[0]!, ctxPath, 'item_feature_0');
    itemCat[id] = [1, 2, 3].map((k) => ctx.rows[r]![cF[k]!]!);
  }
  const log = readCsv(csvPath);
  const n = log.rows.length;
  const item = new Int32Array(n);
  const click = new Uint8Array(n);
  const position = new Int32Array(n);
  const propensity = new Float64Array(n);
  const affinity = new Float64Array(n * nItems);
  const ci = column(log, 'item_id', csvPath);
  const cc = column(log, 'click', csvPath);
  const cp = column(log, 'position', csvPath);
  const cps = column(log, 'propensity_score', csvPath);
  const cu = [0, 1, 2, 3].map((k) => column(log, `user_feature_${k}`, csvPath));
  const ca = Array.from({ length: nItems }, (_, a) => log.header.indexOf(`user-item_affinity_${a}`));
  const user: string[][] = [];
  for (let t = 0; t < n; t++) {
    const it = num(log, t, ci, csvPath, 'item_id', true);
    if (it < 0 || it >= nItems) throw new DataError(`item_id ${it} is not in item_context.csv (0..${nItems - 1})`, { file: csvPath, line: log.lines[t], field: 'item_id' });
    item[t] = it;
    const c = num(log, t, cc, csvPath, 'click', true);
    if (c !== 0 && c !== 1) throw new DataError(`click must be 0 or 1, got ${c}`, { file: csvPath, line: log.lines[t], field: 'click' });
    click[t] = c;
    position[t] = num(log, t, cp, csvPath, 'position', true);
    const p = num(log, t, cps, csvPath, 'propensity_score');
    if (!(p > 0 && p <= 1)) throw new DataError(`propensity_score ${p} is not in (0, 1]`, { file: csvPath, line: log.lines[t], field: 'propensity_score' });
    propensity[t] = p;
    user.push(cu.map((k) => log.rows[t]![k]!));
    for (let a = 0; a < nItems; a++) affinity[t * nItems + a] = ca[a]! >= 0 ? num(log, t, ca[a]!, csvPath, `user-item_affinity_${a}`) : 0;
  }
  const campaign = csvPath.replace(/^.*[\\/]/, '').replace(/\.csv$/i, '');
  return { campaign, file: csvPath, sha256: createHash('sha256').update(log.text).digest('hex'), nItems, item, click, position, propensity, user, affinity, itemNum, itemCat };
}

/** One campaign of the bundled sample by name (the bench's entry point). */
export function loadObd(campaign: string, policy: 'random' | 'bts' = 'random', root = OBD_SAMPLE_DIR): ObdLog {
  return readObd(obdCsvPath(campaign, policy, root));
}

/** Dense one-hot index of each column's values, numbered from 0 across columns. */
function oneHot(rows: readonly (readonly string[])[]): { index: Map<string, number>[]; size: number } {
  let size = 0;
  const index = (rows[0] ?? []).map(() => new Map<string, number>());
  for (const r of rows) r.forEach((v, k) => index[k]!.has(v) || index[k]!.set(v, size++));
  return { index, size };
}

/** The OBD log as an OpeDataset: every item a candidate, features for the reward models. */
export function obdDataset(obd: ObdLog): OpeDataset {
  const n = obd.item.length;
  const m = obd.nItems;
  const indptr = new Int32Array(n + 1);
  const actions = new Int32Array(n * m);
  const logged = new Int32Array(n);
  for (let t = 0; t < n; t++) {
    indptr[t + 1] = (t + 1) * m;
    for (let a = 0; a < m; a++) actions[t * m + a] = a;
    logged[t] = t * m + obd.item[t]!;
  }
  let maxPos = 0;
  for (let t = 0; t < n; t++) maxPos = Math.max(maxPos, obd.position[t]!);
  const users = oneHot(obd.user);
  const dc = users.size + maxPos;
  const context = new Float64Array(n * dc);
  for (let t = 0; t < n; t++) {
    obd.user[t]!.forEach((v, k) => (context[t * dc + users.index[k]!.get(v)!] = 1));
    if (obd.position[t]! >= 1) context[t * dc + users.size + obd.position[t]! - 1] = 1;
  }
  const cats = oneHot(obd.itemCat);
  const da = 1 + cats.size;
  const actionFeatures = new Float64Array(m * da);
  for (let a = 0; a < m; a++) {
    actionFeatures[a * da] = obd.itemNum[a]!;
    obd.itemCat[a]!.forEach((v, k) => (actionFeatures[a * da + 1 + cats.index[k]!.get(v)!] = 1));
  }
  return {
    format: 'obd',
    source: obd.file,
    sha256: obd.sha256,
    log: { n, indptr, actions, logged, propensity: Float64Array.from(obd.propensity), reward: Float64Array.from(obd.click) },
    actionIds: Array.from({ length: m }, (_, a) => String(a)),
    recordIds: Array.from({ length: n }, (_, t) => String(t)),
    position: Int32Array.from(obd.position),
    context: { dim: dc, values: context },
    candidateFeatures: { dim: 1, values: Float64Array.from(obd.affinity) },
    actionFeatures: { dim: da, values: actionFeatures },
  };
}

/** Read an OBD campaign CSV straight into an OpeDataset. */
export function readObdLog(csvPath: string): OpeDataset {
  return obdDataset(readObd(csvPath));
}

/**
 * A context-free estimate of the policy that logged `obd`: each item's share of the rows at each
 * position (π̂(a | position)). For OBD's Bernoulli Thompson sampling, whose probabilities drift
 * as its posterior updates, this is the time-averaged policy; its value equals the logged click
 * rate when clicks do not depend on the time of the impression.
 */
export function obdPositionFrequencies(obd: ObdLog): { position: number; item: number; probability: number }[] {
  const counts = new Map<number, Float64Array>();
  for (let t = 0; t < obd.item.length; t++) {
    const p = obd.position[t]!;
    const c = counts.get(p) ?? counts.set(p, new Float64Array(obd.nItems)).get(p)!;
    c[obd.item[t]!] += 1;
  }
  const out: { position: number; item: number; probability: number }[] = [];
  for (const p of [...counts.keys()].sort((a, b) => a - b)) {
    const c = counts.get(p)!;
    let s = 0;
    for (const x of c) s += x;
    c.forEach((x, a) => out.push({ position: p, item: a, probability: x / s }));
  }
  return out;
}
