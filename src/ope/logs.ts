/**
 * Logged decisions as off-policy evaluation reads them, from three sources:
 *
 * - the Chorus OPE log (JSONL, one decision per line; written by the simulator and by
 *   `writeOpeLog`), format below;
 * - the server's decision log: the JSONL that `GET /events` pages through (one event per line, or
 *   the `{events:[…]}` pages themselves), or the store itself by URL (`sqlite:./chorus.db`);
 * - the Open Bandit Dataset's CSV (./obd.ts).
 *
 * Every reader returns an `OpeDataset`: the bandit log in the estimators' CSR form, external ids to
 * map actions and records back, the features a reward model may use, and the slates where the
 * source logged whole slates.
 *
 * Chorus OPE log, one JSON object per line:
 *
 *   {"id"?: string, "user"?: string, "context"?: number[], "candidates": [id, …],
 *    "candidateFeatures"?: number[][], "chosen": id, "propensity": number, "reward": number,
 *    "slate"?: [id, …], "slotPropensities"?: number[], "slotRewards"?: number[]}
 *
 * `chosen` is one of `candidates` and `propensity` the logging policy's probability of it;
 * `slate` is the whole ranked list shown (its first slot is `chosen`), with the logging policy's
 * probability of each slot's item in that slot and each slot's reward. Ids are strings or numbers
 * (compared as strings). Blank lines are skipped.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { ConfigError, DataError } from '../errors.js';
import { readStoreAt } from '../store/open.js';
import type { DecisionRecord, EventStore, FeedbackRecord } from '../store/types.js';
import type { BanditLog } from './estimators.js';
import type { SlateLog } from './slates.js';

export type ActionId = string | number;

/** One decision of the Chorus OPE log (see the format above). */
export interface OpeRecord {
  id?: string;
  user?: string;
  /** Dense context features (the same length on every line). */
  context?: number[];
  candidates: ActionId[];
  /** Per-candidate features, aligned with `candidates` (the same width on every line). */
  candidateFeatures?: number[][];
  chosen: ActionId;
  /** μ(chosen | context), in (0, 1]. */
  propensity: number;
  reward: number;
  slate?: ActionId[];
  slotPropensities?: number[];
  slotRewards?: number[];
}

/** A dense row-major matrix of features. */
export interface FeatureMatrix {
  dim: number;
  values: Float64Array;
}

/** Logged decisions, ready for ./estimators.ts and the reward models of ./cross-fit.ts. */
export interface OpeDataset {
  format: 'chorus' | 'events' | 'obd';
  /** Where it was read from (a path or a store URL). */
  source: string;
  /** sha256 of the file read (hex), when the source is one file. */
  sha256?: string;
  /** `log.actions` are indices into `actionIds` (the external action ids). */
  log: BanditLog;
  actionIds: string[];
  /** Per record: an external id (event id, the line's id) or its 0-based index as a string. */
  recordIds: string[];
  /** Per record: the external user id, where the source has one. */
  users?: (string | null)[];
  /** Per record: the 1-based slate position the decision filled, where the source says (OBD). */
  position?: Int32Array;
  /** Per record context features (n × dim). */
  context?: FeatureMatrix;
  /** Per candidate features (nnz × dim), aligned with `log.actions`. */
  candidateFeatures?: FeatureMatrix;
  /** Per action features (actionIds.length × dim), e.g. OBD's item context. */
  actionFeatures?: FeatureMatrix;
  /** Whole slates, where the source logged them; `record[s]` is the bandit record of slate s. */
  slates?: { log: SlateLog; record: Int32Array };
}

/** Builds an OpeDataset record by record (ids interned, CSR arrays grown as it goes). */
class DatasetBuilder {
  private readonly actionIndex = new Map<string, number>();
  readonly actionIds: string[] = [];
  private readonly indptr: number[] = [0];
  private readonly actions: number[] = [];
  private readonly logged: number[] = [];
  private readonly propensity: number[] = [];
  private readonly reward: number[] = [];
  private readonly recordIds: string[] = [];
  private readonly users: (string | null)[] = [];
  private anyUser = false;
  private readonly context: number[] = [];
  private contextDim = -1;
  private readonly candFeatures: number[] = [];
  private candDim = -1;
  private readonly slates: { record: number; items: number[]; props: number[]; rewards: number[] }[] = [];

  action(id: string): number {
    let a = this.actionIndex.get(id);
    if (a === undefined) {
      a = this.actionIds.length;
      this.actionIndex.set(id, a);
      this.actionIds.push(id);
    }
    return a;
  }

  get n(): number {
    return this.logged.length;
  }

  /** `chosen` is a position in `candidates`. */
  add(r: { id: string; user: string | null; candidates: readonly number[]; chosen: number; propensity: number; reward: number; context?: readonly number[]; candidateFeatures?: readonly (readonly number[])[] }, where: { file: string; line?: number }): number {
    const i = this.n;
    if (r.context !== undefined) {
      if (this.contextDim === -1 && i === 0) this.contextDim = r.context.length;
      if (r.context.length !== this.contextDim) throw new DataError(`context has ${r.context.length} features, earlier records ${Math.max(this.contextDim, 0)}`, { ...where, field: 'context' });
      this.context.push(...r.context);
    } else if (this.contextDim > 0) throw new DataError('context missing (earlier records have one)', { ...where, field: 'context' });
    else this.contextDim = 0;
    if (r.candidateFeatures !== undefined) {
      if (this.candDim === -1 && i === 0) this.candDim = r.candidateFeatures[0]?.length ?? 0;
      r.candidateFeatures.forEach((f, c) => {
        if (f.length !== this.candDim) throw new DataError(`candidate ${c} has ${f.length} features, expected ${Math.max(this.candDim, 0)}`, { ...where, field: `candidateFeatures[${c}]` });
        this.candFeatures.push(...f);
      });
    } else if (this.candDim > 0) throw new DataError('candidateFeatures missing (earlier records have them)', { ...where, field: 'candidateFeatures' });
    else this.candDim = 0;
    const base = this.actions.length;
    this.actions.push(...r.candidates);
    this.indptr.push(this.actions.length);
    this.logged.push(base + r.chosen);
    this.propensity.push(r.propensity);
    this.reward.push(r.reward);
    this.recordIds.push(r.id);
    this.users.push(r.user);
    if (r.user !== null) this.anyUser = true;
    return i;
  }

  addSlate(record: number, items: number[], props: number[], rewards: number[]): void {
    this.slates.push({ record, items, props, rewards });
  }

  build(format: OpeDataset['format'], source: string, sha256?: string): OpeDataset {
    const n = this.n;
    if (n === 0) throw new DataError('the log holds no decisions', { file: source });
    const ds: OpeDataset = {
      format,
      source,
      sha256,
      log: {
        n,
        indptr: Int32Array.from(this.indptr),
        actions: Int32Array.from(this.actions),
        logged: Int32Array.from(this.logged),
        propensity: Float64Array.from(this.propensity),
        reward: Float64Array.from(this.reward),
      },
      actionIds: this.actionIds,
      recordIds: this.recordIds,
    };
    if (this.anyUser) ds.users = this.users;
    if (this.contextDim > 0) ds.context = { dim: this.contextDim, values: Float64Array.from(this.context) };
    if (this.candDim > 0) ds.candidateFeatures = { dim: this.candDim, values: Float64Array.from(this.candFeatures) };
    if (this.slates.length > 0) {
      // The slate estimators need one slate length: slates are cut to the shortest one logged.
      const K = Math.min(...this.slates.map((s) => s.items.length));
      if (K >= 1) {
        const m = this.slates.length;
        const slate = new Int32Array(m * K);
        const loggingMarginal = new Float64Array(m * K);
        const reward = new Float64Array(m * K);
        const record = new Int32Array(m);
        this.slates.forEach((s, j) => {
          record[j] = s.record;
          for (let k = 0; k < K; k++) {
            slate[j * K + k] = s.items[k]!;
            loggingMarginal[j * K + k] = s.props[k]!;
            reward[j * K + k] = s.rewards[k]!;
          }
        });
        ds.slates = { log: { n: m, K, slate, loggingMarginal, reward }, record };
      }
    }
    return ds;
  }
}

function sha256Of(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function readText(path: string): string {
  if (!existsSync(path)) throw new DataError('file not found', { file: path }, 'E_NOT_FOUND');
  return readFileSync(path, 'utf8');
}

/** Parsed JSON lines with their 1-based line numbers; blank lines skipped. */
function jsonLines(text: string, file: string): { line: number; value: unknown }[] {
  const out: { line: number; value: unknown }[] = [];
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const s = lines[k]!.trim();
    if (s === '') continue;
    try {
      out.push({ line: k + 1, value: JSON.parse(s) as unknown });
    } catch (e) {
      throw new DataError(`not valid JSON (${(e as Error).message})`, { file, line: k + 1 });
    }
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function probability(v: unknown, where: { file: string; line: number }, field: string): number {
  if (typeof v !== 'number' || !(v > 0 && v <= 1)) throw new DataError(`expected a probability in (0, 1], got ${JSON.stringify(v)}`, { ...where, field });
  return v;
}

function finiteNumber(v: unknown, where: { file: string; line: number }, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new DataError(`expected a number, got ${JSON.stringify(v)}`, { ...where, field });
  return v;
}

function numberArray(v: unknown, where: { file: string; line: number }, field: string): number[] {
  if (!Array.isArray(v)) throw new DataError(`expected an array of numbers, got ${JSON.stringify(v)}`, { ...where, field });
  return v.map((x, k) => finiteNumber(x, where, `${field}[${k}]`));
}

function idArray(v: unknown, where: { file: string; line: number }, field: string): string[] {
  if (!Array.isArray(v) || v.length === 0) throw new DataError('expected a non-empty array of ids', { ...where, field });
  const seen = new Set<string>();
  return v.map((x, k) => {
    if (typeof x !== 'string' && typeof x !== 'number') throw new DataError(`expected a string or number id, got ${JSON.stringify(x)}`, { ...where, field: `${field}[${k}]` });
    const id = String(x);
    if (seen.has(id)) throw new DataError(`duplicate id "${id}"`, { ...where, field: `${field}[${k}]` });
    seen.add(id);
    return id;
  });
}

/** Write records as a Chorus OPE log (JSONL, one decision per line); resolves once flushed. */
export async function writeOpeLog(path: string, records: Iterable<OpeRecord>): Promise<void> {
  const out = createWriteStream(path, { encoding: 'utf8' });
  const done = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  for (const r of records) {
    if (!out.write(`${JSON.stringify(r)}\n`)) await new Promise<void>((resolve) => out.once('drain', resolve));
  }
  out.end();
  await done;
}

/** Validate one Chorus OPE log line into an OpeRecord; errors name the file, line and field. */
export function parseOpeRecord(value: unknown, where: { file: string; line: number }): OpeRecord {
  if (!isObject(value)) throw new DataError('expected a JSON object per line', where);
  const candidates = idArray(value.candidates, where, 'candidates');
  if (typeof value.chosen !== 'string' && typeof value.chosen !== 'number') throw new DataError('missing chosen action id', { ...where, field: 'chosen' });
  if (!candidates.includes(String(value.chosen))) throw new DataError(`chosen action "${value.chosen}" is not among the candidates`, { ...where, field: 'chosen' });
  const rec: OpeRecord = { candidates, chosen: String(value.chosen), propensity: probability(value.propensity, where, 'propensity'), reward: finiteNumber(value.reward, where, 'reward') };
  for (const f of ['id', 'user'] as const) {
    const v = value[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' && typeof v !== 'number') throw new DataError(`expected a string, got ${JSON.stringify(v)}`, { ...where, field: f });
    rec[f] = String(v);
  }
  if (value.context !== undefined && value.context !== null) rec.context = numberArray(value.context, where, 'context');
  if (value.candidateFeatures !== undefined && value.candidateFeatures !== null) {
    const cf = value.candidateFeatures;
    if (!Array.isArray(cf) || cf.length !== candidates.length) throw new DataError(`expected one feature array per candidate (${candidates.length})`, { ...where, field: 'candidateFeatures' });
    rec.candidateFeatures = cf.map((f, k) => numberArray(f, where, `candidateFeatures[${k}]`));
  }
  if (value.slate !== undefined && value.slate !== null) {
    const slate = idArray(value.slate, where, 'slate');
    if (slate[0] !== rec.chosen) throw new DataError(`the slate's first slot "${slate[0]}" is not the chosen action "${rec.chosen}"`, { ...where, field: 'slate[0]' });
    const props = numberArray(value.slotPropensities, where, 'slotPropensities');
    const rewards = numberArray(value.slotRewards, where, 'slotRewards');
    for (const [f, arr] of [['slotPropensities', props], ['slotRewards', rewards]] as const) {
      if (arr.length !== slate.length) throw new DataError(`${arr.length} entries for a slate of ${slate.length}`, { ...where, field: f });
    }
    props.forEach((p, k) => probability(p, where, `slotPropensities[${k}]`));
    rec.slate = slate;
    rec.slotPropensities = props;
    rec.slotRewards = rewards;
  }
  return rec;
}

/** OpeRecords (already validated) into an OpeDataset. */
export function opeDatasetFromRecords(records: Iterable<OpeRecord>, source = '<records>', lines?: readonly number[], sha256?: string): OpeDataset {
  const b = new DatasetBuilder();
  let j = 0;
  for (const r of records) {
    const where = { file: source, line: lines?.[j] };
    const cands = r.candidates.map((c) => b.action(String(c)));
    const chosen = r.candidates.findIndex((c) => String(c) === String(r.chosen));
    if (chosen < 0) throw new DataError(`chosen action "${r.chosen}" is not among the candidates`, { ...where, field: 'chosen' });
    const i = b.add({ id: r.id ?? String(j), user: r.user ?? null, candidates: cands, chosen, propensity: r.propensity, reward: r.reward, context: r.context, candidateFeatures: r.candidateFeatures }, where);
    if (r.slate && r.slotPropensities && r.slotRewards) b.addSlate(i, r.slate.map((s) => b.action(String(s))), r.slotPropensities, r.slotRewards);
    j++;
  }
  return b.build('chorus', source, sha256);
}

/** Read a Chorus OPE log (JSONL). */
export function readOpeLog(path: string): OpeDataset {
  const text = readText(path);
  const rows = jsonLines(text, path);
  const records = rows.map((r) => parseOpeRecord(r.value, { file: path, line: r.line }));
  return opeDatasetFromRecords(records, path, rows.map((r) => r.line), sha256Of(text));
}

/** One logged decision with its feedback, as `GET /events` returns it. */
export interface LoggedEvent {
  eventId: string;
  user: string | null;
  kind: string;
  activated: boolean;
  items: string[];
  propensities: number[];
  feedback: { item: string; position: number | null; reward: number }[];
}

/**
 * The server's decisions as OPE records. A Rank event offered all its actions and the first is the
 * one it chose (Personalizer's rewardActionId), with its probability; its reward is the feedback
 * on position 0 (0 when none came: Personalizer's default reward). A recommend slate showed
 * `items` out of a pool the log does not keep, so its candidates are every item the log's
 * recommend decisions ever showed; its bandit record is slot 1 (its item, its propensity, the
 * reward on it) and the whole slate goes to the slate estimators with each slot's reward (the sum
 * of the feedback on that position). Deferred Rank events never activated are left out (their
 * rewards were refused), as are decisions whose first propensity is missing or 0.
 */
export function opeDatasetFromEvents(events: readonly { event: LoggedEvent; line?: number }[], source: string, sha256?: string): OpeDataset {
  const b = new DatasetBuilder();
  const shown: number[] = [];
  const seenShown = new Set<number>();
  for (const { event } of events) {
    if (event.kind !== 'recommend') continue;
    for (const id of event.items) {
      const a = b.action(id);
      if (!seenShown.has(a)) {
        seenShown.add(a);
        shown.push(a);
      }
    }
  }
  for (const { event: e, line } of events) {
    const where = { file: source, line };
    if (!e.activated || e.items.length === 0) continue;
    if (e.propensities.length !== e.items.length) throw new DataError(`${e.propensities.length} propensities for ${e.items.length} items`, { ...where, field: 'propensities' });
    if (!(e.propensities[0]! > 0 && e.propensities[0]! <= 1)) continue;
    const slotReward = new Array<number>(e.items.length).fill(0);
    for (const f of e.feedback) if (f.position !== null && f.position >= 0 && f.position < e.items.length) slotReward[f.position] += f.reward;
    const items = e.items.map((id) => b.action(id));
    if (e.kind === 'rank') {
      b.add({ id: e.eventId, user: e.user, candidates: items, chosen: 0, propensity: e.propensities[0]!, reward: slotReward[0]! }, where);
    } else if (e.kind === 'recommend') {
      const chosen = shown.indexOf(items[0]!);
      const i = b.add({ id: e.eventId, user: e.user, candidates: shown, chosen, propensity: e.propensities[0]!, reward: slotReward[0]! }, where);
      if (e.propensities.every((p) => p > 0 && p <= 1)) b.addSlate(i, items, e.propensities, slotReward);
    } else throw new DataError(`unknown decision kind "${e.kind}"`, { ...where, field: 'kind' });
  }
  return b.build('events', source, sha256);
}

function parseEvent(v: unknown, where: { file: string; line: number }): LoggedEvent {
  if (!isObject(v)) throw new DataError('expected an event object', where);
  const str = (f: string): string => {
    if (typeof v[f] !== 'string') throw new DataError(`expected a string, got ${JSON.stringify(v[f])}`, { ...where, field: f });
    return v[f] as string;
  };
  const items = v.items;
  if (!Array.isArray(items) || items.some((x) => typeof x !== 'string')) throw new DataError('expected an array of item ids', { ...where, field: 'items' });
  const fb = v.feedback ?? [];
  if (!Array.isArray(fb)) throw new DataError('expected an array', { ...where, field: 'feedback' });
  return {
    eventId: str('eventId'),
    user: typeof v.user === 'string' ? v.user : null,
    kind: str('kind'),
    activated: v.activated !== false,
    items: items as string[],
    propensities: numberArray(v.propensities, where, 'propensities'),
    feedback: fb.map((f, k) => {
      if (!isObject(f)) throw new DataError('expected a feedback object', { ...where, field: `feedback[${k}]` });
      return { item: String(f.item), position: typeof f.position === 'number' ? f.position : null, reward: finiteNumber(f.reward, where, `feedback[${k}].reward`) };
    }),
  };
}

/** Read the server's `GET /events` export: one event per line, or one `{events:[…]}` page per line. */
export function readEventsLog(path: string): OpeDataset {
  const text = readText(path);
  const events: { event: LoggedEvent; line: number }[] = [];
  for (const { line, value } of jsonLines(text, path)) {
    const where = { file: path, line };
    if (isObject(value) && Array.isArray(value.events)) for (const e of value.events) events.push({ event: parseEvent(e, where), line });
    else events.push({ event: parseEvent(value, where), line });
  }
  return opeDatasetFromEvents(events, path, sha256Of(text));
}

/** Guess a log file's format from its first non-blank line (`obd` is a CSV, see ./obd.ts). */
export function sniffLogFormat(path: string): 'chorus' | 'events' | 'obd' {
  if (/\.csv$/i.test(path)) return 'obd';
  const text = readText(path);
  const first = text.split('\n').find((l) => l.trim() !== '');
  if (first === undefined) throw new DataError('the log is empty', { file: path });
  let v: unknown;
  try {
    v = JSON.parse(first);
  } catch {
    throw new DataError('not a JSONL log (and not a .csv); give --format', { file: path, line: 1 });
  }
  if (isObject(v) && ('eventId' in v || 'events' in v)) return 'events';
  if (isObject(v) && 'candidates' in v) return 'chorus';
  throw new ConfigError(`${path}: cannot tell the log's format from its first line; give --format chorus|events|obd`, 'format');
}

/** Convert a stored decision and its feedback into the `GET /events` shape. */
export function loggedEvent(d: DecisionRecord, feedback: readonly FeedbackRecord[]): LoggedEvent {
  return { eventId: d.id, user: d.user, kind: d.kind, activated: d.activated, items: d.items, propensities: d.propensities, feedback: feedback.map((f) => ({ item: f.item, position: f.position, reward: f.reward })) };
}

/** Every decision of an event store with its feedback, in pages (oldest first). */
export async function readEventStore(events: EventStore, source: string, pageSize = 5000): Promise<OpeDataset> {
  const all: { event: LoggedEvent }[] = [];
  let after = 0;
  for (;;) {
    const page = await events.decisionsAfter(after, pageSize);
    if (page.length === 0) break;
    const fb = await events.feedbackFor(page.map((d) => d.id));
    const by = new Map<string, FeedbackRecord[]>();
    for (const f of fb) if (f.eventId !== null) (by.get(f.eventId) ?? by.set(f.eventId, []).get(f.eventId)!).push(f);
    for (const d of page) all.push({ event: loggedEvent(d, by.get(d.id) ?? []) });
    after = page[page.length - 1]!.seq!;
    if (page.length < pageSize) break;
  }
  return opeDatasetFromEvents(all, source);
}

/**
 * Open a store by URL (`sqlite:./chorus.db`) and read its decision log; the store is only read and
 * closed again. A path that does not exist is refused rather than created empty.
 */
export function readStoreLog(url: string): Promise<OpeDataset> {
  return readStoreAt(url, (store) => readEventStore(store.events, store.url));
}
