import type { DecisionRecord } from '../../src/store/types.js';

/** A logged recommend decision of user u1 over items a and b, with what a test needs changed. */
export function decisionRecord(id: string, change: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    id,
    ts: 1000,
    user: 'u1',
    kind: 'recommend',
    items: ['a', 'b'],
    propensities: [0.5, 0.5],
    scores: [1, 0.9],
    snapshotId: 's1',
    activated: true,
    payload: null,
    ...change,
  };
}
