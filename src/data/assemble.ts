/**
 * After the streaming pass: fill missing values, give dense indices in external-id order, apply
 * the duplicate policy, and copy the kept rows into the Dataset's final typed arrays.
 */
import { Dataset, IdMap, type DatasetSource, type Interactions } from './dataset.js';
import { markDuplicates } from './duplicates.js';
import type { MissingPolicy, ReadOptions } from './read-options.js';
import type { Policies } from './row-checks.js';
import type { ReportBuilder } from './report.js';
import type { RowBuffer } from './row-buffer.js';
import { externalIdOrder } from './sort.js';

export interface AssembleInput {
  path: string;
  name: string;
  source: DatasetSource;
  rows: RowBuffer;
  users: IdMap;
  items: IdMap;
  eventTypes: string[];
  report: ReportBuilder;
  options: ReadOptions;
  policies: Policies;
}

export function assembleDataset(input: AssembleInput): Dataset {
  const { rows, report, options } = input;
  const n = rows.n;
  const value = rows.value.subarray(0, n);
  let user: Int32Array = rows.user.subarray(0, n);
  let item: Int32Array = rows.item.subarray(0, n);
  const ts = rows.ts.subarray(0, n);
  const et = rows.et.subarray(0, n);
  let { users, items } = input;

  // Missing values are NaN here (unparsable ones were dropped or rejected already).
  const missing = input.policies.missing;
  if (missing !== 'drop' && report.count('missing-value') > 0) {
    const fill = fillValue(value, missing, options.fillValue);
    for (let k = 0; k < n; k++) if (Number.isNaN(value[k]!)) value[k] = fill;
    report.setDetail('missing-value', 'repaired', `filled with the ${missing === 'constant' ? 'constant' : missing} ${fill}`);
  }

  // Dense indices in external-id order, so the dataset does not depend on row order.
  const sortIds = options.sortIds ?? (options.users === undefined && options.items === undefined);
  if (sortIds) {
    [users, user] = reorder(users, user);
    [items, item] = reorder(items, item);
  }

  const policy = input.policies.duplicates;
  const { drop, dropped } =
    policy === 'keep' ? { drop: new Uint8Array(n), dropped: 0 } : markDuplicates({ user, item, value, ts, et, users, items, lines: rows.lines, path: input.path }, policy);

  const m = n - dropped;
  const out: Interactions = {
    length: m,
    user: new Int32Array(m),
    item: new Int32Array(m),
    value: new Float32Array(m),
    timestamp: new Float64Array(m),
    eventType: new Uint8Array(m),
  };
  const eventTypes = input.eventTypes.length ? input.eventTypes : ['interaction'];
  const dupDetail = { first: 'kept the first', last: 'kept the last', sum: 'summed into the first', keep: '', error: '' }[policy];
  for (let k = 0, j = 0; k < n; k++) {
    if (drop[k]) {
      report.add('duplicate', policy === 'sum' ? 'merged' : 'dropped', rows.lines.lineOf(k), `repeated (user, item${eventTypes.length > 1 ? ', event type' : ''}): ${dupDetail}`);
      continue;
    }
    (out.user as Int32Array)[j] = user[k]!;
    (out.item as Int32Array)[j] = item[k]!;
    (out.value as Float32Array)[j] = value[k]!;
    (out.timestamp as Float64Array)[j] = ts[k]!;
    (out.eventType as Uint8Array)[j] = et[k]!;
    j++;
  }
  return new Dataset({ name: input.name, users, items, interactions: out, eventTypes, source: input.source });
}

/** Renumber `idx` so that index order is external-id order. */
function reorder(map: IdMap, idx: Int32Array): [IdMap, Int32Array] {
  const ids = map.ids();
  const rank = externalIdOrder(ids);
  let identity = true;
  for (let i = 0; i < rank.length; i++) if (rank[i] !== i) identity = false;
  if (identity) return [map, idx];
  const sorted = new Array<string>(ids.length);
  for (let i = 0; i < ids.length; i++) sorted[rank[i]!] = ids[i]!;
  for (let k = 0; k < idx.length; k++) idx[k] = rank[idx[k]!]!;
  return [IdMap.from(sorted), idx];
}

/** The fill for missing values: the constant, or the mean / median of the present values. */
function fillValue(value: Float32Array, policy: MissingPolicy, constant: number | undefined): number {
  if (policy === 'constant') return constant!;
  let count = 0;
  let sum = 0;
  for (let k = 0; k < value.length; k++) {
    const v = value[k]!;
    if (!Number.isNaN(v)) {
      count++;
      sum += v;
    }
  }
  if (count === 0) return constant ?? 0;
  if (policy === 'mean') return sum / count;
  const present = new Float32Array(count);
  for (let k = 0, j = 0; k < value.length; k++) if (!Number.isNaN(value[k]!)) present[j++] = value[k]!;
  present.sort();
  const mid = count >> 1;
  return count % 2 === 1 ? present[mid]! : (present[mid - 1]! + present[mid]!) / 2;
}
