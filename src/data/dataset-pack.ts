/**
 * A Dataset as plain data for a worker thread (structured clone: typed arrays, strings, plain
 * objects), and back. The id maps travel as their id lists; the CSR views are not sent, the
 * receiving side builds them again from the interactions (the same arrays give the same CSR).
 */
import { Dataset, IdMap, type DatasetSource, type ItemMeta, type UserMeta } from './dataset.js';

export interface PackedDataset {
  name: string;
  users: string[];
  items: string[];
  user: Int32Array;
  item: Int32Array;
  value: Float32Array;
  timestamp: Float64Array;
  eventType: Uint8Array;
  eventTypes: string[];
  itemMeta: (ItemMeta | undefined)[];
  /** Optional: senders that leave it out get a dataset without user metadata. */
  userMeta?: (UserMeta | undefined)[];
  source?: DatasetSource;
}

/** Everything a model may read from `ds`, ready for `workerData` or `postMessage`. */
export function packDataset(ds: Dataset): PackedDataset {
  const it = ds.interactions;
  return {
    name: ds.name,
    users: ds.users.ids(),
    items: ds.items.ids(),
    user: it.user,
    item: it.item,
    value: it.value,
    timestamp: it.timestamp,
    eventType: it.eventType,
    eventTypes: ds.eventTypes,
    itemMeta: ds.itemMeta,
    userMeta: ds.userMeta,
    source: ds.source,
  };
}

export function unpackDataset(p: PackedDataset): Dataset {
  return new Dataset({
    name: p.name,
    users: IdMap.from(p.users),
    items: IdMap.from(p.items),
    interactions: { length: p.user.length, user: p.user, item: p.item, value: p.value, timestamp: p.timestamp, eventType: p.eventType },
    eventTypes: p.eventTypes,
    itemMeta: p.itemMeta,
    userMeta: p.userMeta,
    source: p.source,
  });
}
