/**
 * Target policies for off-policy evaluation: π(a | x_i) over each logged record's candidates.
 *
 * - `uniform`: 1/|candidates|. Fully known on any log.
 * - an action-probability file (CSV with header `record,action,probability[,position]`, or JSONL
 *   `{"record","action","probability","position"?}`): `record` is a record id (the event id, the
 *   Chorus log's `id`, else the 0-based line index) or `*` for every record; `position` (1-based)
 *   limits a row to records that filled that slate position (OBD) or, for slates, to that slot.
 *   Rows for a record's own id take precedence over `*` rows.
 * - a deterministic ranking by scores (`scoredPolicy`): the best-scored candidate, ties shared
 *   equally; `affinity` scores by the candidates' first feature (OBD's user-item affinity), and
 *   the CLI builds the same from a fitted or saved recommender.
 * - `softened(policy, ε)`: (1 − ε) π + ε / |candidates|, so that every logged action keeps support
 *   and IPS stays finite against a deterministic target.
 *
 * A policy may also give slot marginals π_j(s | x) for the slate estimators (`slotProbabilities`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, DataError } from '../errors.js';
import type { OpeDataset } from './logs.js';

export interface TargetPolicy {
  readonly name: string;
  /** π over record `record`'s candidates, in their logged order, into out[0 … |candidates|). */
  probabilities(record: number, out: Float64Array): void;
  /**
   * π_j(s_j | x) of each slot of logged slate `slate` (data.slates), into out[0 … K); absent when
   * the policy does not define slot marginals.
   */
  slotProbabilities?(slate: number, out: Float64Array): void;
}

/** π for every candidate of every record, aligned with `data.log.actions`. */
export function targetProbabilities(policy: TargetPolicy, data: OpeDataset): Float64Array {
  const { log } = data;
  const out = new Float64Array(log.actions.length);
  for (let i = 0; i < log.n; i++) policy.probabilities(i, out.subarray(log.indptr[i]!, log.indptr[i + 1]!));
  return out;
}

/** Slot marginals of every logged slate (n·K), or null when the policy has none or the log no slates. */
export function slateTargetProbabilities(policy: TargetPolicy, data: OpeDataset): Float64Array | null {
  const s = data.slates;
  if (!s || !policy.slotProbabilities) return null;
  const { n, K } = s.log;
  const out = new Float64Array(n * K);
  for (let j = 0; j < n; j++) policy.slotProbabilities(j, out.subarray(j * K, (j + 1) * K));
  return out;
}

function candidateCount(data: OpeDataset, record: number): number {
  return data.log.indptr[record + 1]! - data.log.indptr[record]!;
}

export function uniformPolicy(data: OpeDataset): TargetPolicy {
  return {
    name: 'uniform',
    probabilities(record, out) {
      out.fill(1 / candidateCount(data, record));
    },
    // A uniformly random ranking puts each candidate in each slot with probability 1/m.
    slotProbabilities(slate, out) {
      out.fill(1 / candidateCount(data, data.slates!.record[slate]!));
    },
  };
}

/**
 * The deterministic ranking of each record's candidates by `score` (higher first); candidates
 * with equal scores share their slots equally (a uniformly random tie-break), so the policy is
 * well defined when scores tie (OBD's affinities are mostly 0).
 */
export function scoredPolicy(name: string, data: OpeDataset, score: (record: number, out: Float64Array) => void): TargetPolicy {
  const { log } = data;
  let buf = new Float64Array(0);
  const scores = (record: number): Float64Array => {
    const m = candidateCount(data, record);
    if (buf.length < m) buf = new Float64Array(m);
    const s = buf.subarray(0, m);
    score(record, s);
    return s;
  };
  return {
    name,
    probabilities(record, out) {
      const s = scores(record);
      let best = -Infinity;
      for (const x of s) if (x > best) best = x;
      let ties = 0;
      for (const x of s) if (x === best) ties++;
      for (let c = 0; c < s.length; c++) out[c] = s[c] === best ? 1 / ties : 0;
    },
    slotProbabilities(slate, out) {
      const sl = data.slates!;
      const record = sl.record[slate]!;
      const s = scores(record);
      const lo = log.indptr[record]!;
      const K = sl.log.K;
      for (let j = 0; j < K; j++) {
        const a = sl.log.slate[slate * K + j]!;
        let c = -1;
        for (let k = lo; k < log.indptr[record + 1]!; k++) if (log.actions[k] === a) c = k - lo;
        if (c < 0) {
          out[j] = 0;
          continue;
        }
        // Slots [above, above + tied) hold c's tie group, each of its members in each slot with 1/tied.
        let above = 0;
        let tied = 0;
        for (const x of s) {
          if (x > s[c]!) above++;
          else if (x === s[c]) tied++;
        }
        out[j] = j >= above && j < above + tied ? 1 / tied : 0;
      }
    },
  };
}

/** Rank by the candidates' first feature (OBD: the user-item affinity). */
export function affinityPolicy(data: OpeDataset): TargetPolicy {
  const cf = data.candidateFeatures;
  if (!cf) throw new ConfigError(`policy "affinity" needs per-candidate features, which ${data.format} log ${data.source} does not have`, 'policy');
  return scoredPolicy('affinity', data, (record, out) => {
    const lo = data.log.indptr[record]!;
    for (let c = 0; c < out.length; c++) out[c] = cf.values[(lo + c) * cf.dim]!;
  });
}

/** (1 − ε) π + ε · uniform. */
export function softened(policy: TargetPolicy, epsilon: number, data: OpeDataset): TargetPolicy {
  if (!(epsilon >= 0 && epsilon <= 1)) throw new ConfigError(`epsilon must be in [0, 1], got ${epsilon}`, 'epsilon');
  if (epsilon === 0) return policy;
  const slots = policy.slotProbabilities;
  return {
    name: `${policy.name}+epsilon=${epsilon}`,
    probabilities(record, out) {
      policy.probabilities(record, out);
      const u = epsilon / out.length;
      for (let c = 0; c < out.length; c++) out[c] = (1 - epsilon) * out[c]! + u;
    },
    slotProbabilities: slots
      ? (slate, out) => {
          slots.call(policy, slate, out);
          const u = epsilon / candidateCount(data, data.slates!.record[slate]!);
          for (let j = 0; j < out.length; j++) out[j] = (1 - epsilon) * out[j]! + u;
        }
      : undefined,
  };
}

interface ProbabilityRow {
  record: string;
  action: string;
  probability: number;
  position: number | null;
  line: number;
}

function parseProbabilityFile(path: string): ProbabilityRow[] {
  if (!existsSync(path)) throw new DataError('action-probability file not found', { file: path }, 'E_NOT_FOUND');
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const rows: ProbabilityRow[] = [];
  const row = (line: number, rec: unknown, act: unknown, prob: unknown, pos: unknown): void => {
    const where = { file: path, line };
    if (rec === undefined || rec === null || rec === '') throw new DataError('missing record id', { ...where, field: 'record' });
    if (act === undefined || act === null || act === '') throw new DataError('missing action id', { ...where, field: 'action' });
    const p = typeof prob === 'string' && prob.trim() !== '' ? Number(prob) : prob;
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new DataError(`expected a probability in [0, 1], got ${JSON.stringify(prob)}`, { ...where, field: 'probability' });
    let position: number | null = null;
    if (pos !== undefined && pos !== null && pos !== '') {
      const x = typeof pos === 'string' ? Number(pos) : pos;
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 1) throw new DataError(`expected a 1-based position, got ${JSON.stringify(pos)}`, { ...where, field: 'position' });
      position = x;
    }
    rows.push({ record: String(rec), action: String(act), probability: p, position, line });
  };
  if (/\.csv$/i.test(path)) {
    const header = (lines[0] ?? '').trim().split(',');
    const col = (name: string, required: boolean): number => {
      const i = header.indexOf(name);
      if (i < 0 && required) throw new DataError(`no column "${name}" (expected record,action,probability[,position])`, { file: path, line: 1, field: name });
      return i;
    };
    const [cr, ca, cp, cpos] = [col('record', true), col('action', true), col('probability', true), col('position', false)];
    for (let k = 1; k < lines.length; k++) {
      const l = lines[k]!.trim();
      if (l === '') continue;
      const f = l.split(',');
      row(k + 1, f[cr], f[ca], f[cp], cpos >= 0 ? f[cpos] : undefined);
    }
  } else {
    for (let k = 0; k < lines.length; k++) {
      const l = lines[k]!.trim();
      if (l === '') continue;
      let v: unknown;
      try {
        v = JSON.parse(l);
      } catch (e) {
        throw new DataError(`not valid JSON (${(e as Error).message})`, { file: path, line: k + 1 });
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DataError('expected a JSON object per line', { file: path, line: k + 1 });
      const o = v as Record<string, unknown>;
      row(k + 1, o.record, o.action, o.probability, o.position);
    }
  }
  if (rows.length === 0) throw new DataError('the action-probability file is empty', { file: path });
  return rows;
}

/** A policy read from an action-probability file (format in the file comment). */
export function fileTargetPolicy(path: string, data: OpeDataset): TargetPolicy {
  const rows = parseProbabilityFile(path);
  // key: record id (or *) + '\u0000' + position (or ''), → action index → probability
  const table = new Map<string, Map<number, number>>();
  const actionIndex = new Map<string, number>();
  data.actionIds.forEach((id, a) => actionIndex.set(id, a));
  let hasPositions = false;
  for (const r of rows) {
    const a = actionIndex.get(r.action);
    if (a === undefined) throw new DataError(`action "${r.action}" does not occur in the log`, { file: path, line: r.line, field: 'action' });
    const key = `${r.record}\u0000${r.position ?? ''}`;
    const m = table.get(key) ?? table.set(key, new Map()).get(key)!;
    if (m.has(a)) throw new DataError(`a second probability for record "${r.record}", action "${r.action}"`, { file: path, line: r.line, field: 'probability' });
    m.set(a, r.probability);
    if (r.position !== null) hasPositions = true;
  }
  const lookup = (record: number, position: number | null): Map<number, number> | undefined => {
    const id = data.recordIds[record]!;
    const p = position === null ? '' : String(position);
    return table.get(`${id}\u0000${p}`) ?? table.get(`*\u0000${p}`) ?? (p !== '' ? (table.get(`${id}\u0000`) ?? table.get('*\u0000')) : undefined);
  };
  const fill = (record: number, position: number | null, out: Float64Array): void => {
    const m = lookup(record, position);
    if (!m) throw new DataError(`no probabilities for record "${data.recordIds[record]}"${position !== null ? ` at position ${position}` : ''}`, { file: path, field: 'record' });
    const lo = data.log.indptr[record]!;
    for (let c = 0; c < out.length; c++) out[c] = m.get(data.log.actions[lo + c]!) ?? 0;
  };
  const policy: TargetPolicy = {
    name: `file:${path}`,
    probabilities(record, out) {
      fill(record, data.position ? data.position[record]! : null, out);
    },
  };
  if (hasPositions) {
    policy.slotProbabilities = (slate, out) => {
      const sl = data.slates!;
      const record = sl.record[slate]!;
      for (let j = 0; j < out.length; j++) {
        const m = lookup(record, j + 1);
        out[j] = m?.get(sl.log.slate[slate * sl.log.K + j]!) ?? 0;
      }
    };
  }
  return policy;
}

/** The policies `makeTargetPolicy` knows by name (files are recognised by their extension). */
export const NAMED_POLICIES = ['uniform', 'affinity'] as const;

/**
 * A target policy by name (`uniform`, `affinity`) or action-probability file (.csv, .jsonl,
 * .json), ε-softened when `epsilon` > 0. Recommender rankings are built by the caller with
 * `scoredPolicy` (it needs a fitted model and id maps).
 */
export function makeTargetPolicy(spec: string, data: OpeDataset, epsilon = 0): TargetPolicy {
  let p: TargetPolicy;
  if (spec === 'uniform') p = uniformPolicy(data);
  else if (spec === 'affinity') p = affinityPolicy(data);
  else if (/\.(csv|jsonl|json)$/i.test(spec)) p = fileTargetPolicy(spec, data);
  else throw new ConfigError(`unknown target policy "${spec}"; expected ${NAMED_POLICIES.join(', ')}, an action-probability file (.csv/.jsonl), a saved model file or a recommender name`, 'policy');
  return softened(p, epsilon, data);
}
