import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { estimate } from '../../src/ope/estimators.js';
import { opeDatasetFromRecords, type OpeRecord } from '../../src/ope/logs.js';
import { loadObd, obdDataset } from '../../src/ope/obd.js';
import { affinityPolicy, fileTargetPolicy, makeTargetPolicy, scoredPolicy, slateTargetProbabilities, softened, targetProbabilities, uniformPolicy } from '../../src/ope/policies.js';

const dir = mkdtempSync(join(tmpdir(), 'chorus-ope-policies-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const records: OpeRecord[] = [
  { id: 'e1', candidates: ['a', 'b', 'c'], candidateFeatures: [[0.5], [0.9], [0.5]], chosen: 'b', propensity: 0.5, reward: 1, slate: ['b', 'a', 'c'], slotPropensities: [0.5, 0.5, 0.5], slotRewards: [1, 0, 0] },
  { id: 'e2', candidates: ['c', 'a'], candidateFeatures: [[0], [0]], chosen: 'c', propensity: 0.25, reward: 0, slate: ['c', 'a'], slotPropensities: [0.25, 0.5], slotRewards: [0, 1] },
];
const data = opeDatasetFromRecords(records);

describe('target policies', () => {
  it('uniform: 1/|candidates| per record and per slot', () => {
    const p = uniformPolicy(data);
    expect(Array.from(targetProbabilities(p, data))).toEqual([1 / 3, 1 / 3, 1 / 3, 0.5, 0.5]);
    expect(Array.from(slateTargetProbabilities(p, data)!)).toEqual([1 / 3, 1 / 3, 0.5, 0.5]);
  });

  it('a ranking by scores picks the best candidate and shares ties, per record and per slot', () => {
    const p = affinityPolicy(data);
    expect(Array.from(targetProbabilities(p, data))).toEqual([0, 1, 0, 0.5, 0.5]);
    // Slate e1 (cut to K=2): b is first for sure; a ties with c for slots 2–3, so 1/2 in slot 2.
    // Slate e2: c and a tie for slots 1–2: 1/2 each.
    expect(Array.from(slateTargetProbabilities(p, data)!)).toEqual([1, 0.5, 0.5, 0.5]);
  });

  it('ε-softening mixes in the uniform policy', () => {
    const p = softened(affinityPolicy(data), 0.3, data);
    const t = targetProbabilities(p, data);
    expect(t[1]).toBeCloseTo(0.7 + 0.1, 12);
    expect(t[0]).toBeCloseTo(0.1, 12);
    expect(t[3]).toBeCloseTo(0.5, 12);
    expect(slateTargetProbabilities(p, data)![0]).toBeCloseTo(0.7 + 0.1, 12);
    expect(() => softened(uniformPolicy(data), 1.5, data)).toThrow(/epsilon/);
  });

  it('reads action-probability files (CSV and JSONL), record rows before * rows', () => {
    const csv = join(dir, 'pi.csv');
    writeFileSync(csv, 'record,action,probability\n*,a,0.5\n*,c,0.5\ne1,b,1\n');
    expect(Array.from(targetProbabilities(fileTargetPolicy(csv, data), data))).toEqual([0, 1, 0, 0.5, 0.5]);
    const jsonl = join(dir, 'pi.jsonl');
    writeFileSync(jsonl, ['{"record":"e1","action":"a","probability":0.2}', '{"record":"e1","action":"c","probability":0.8}', '{"record":"e2","action":"a","probability":1}'].join('\n'));
    expect(Array.from(targetProbabilities(makeTargetPolicy(jsonl, data), data))).toEqual([0.2, 0, 0.8, 0, 1]);
  });

  it('names the file, line and field of a bad action-probability file', () => {
    const f = join(dir, 'bad.csv');
    writeFileSync(f, 'record,action,probability\n*,a,0.5\n*,zzz,0.5\n');
    expect(() => fileTargetPolicy(f, data)).toThrow(/bad\.csv:3 field "action"/);
    writeFileSync(f, 'record,action,probability\n*,a,1.5\n');
    expect(() => fileTargetPolicy(f, data)).toThrow(/bad\.csv:2 field "probability"/);
    writeFileSync(f, 'record,action\n*,a\n');
    expect(() => fileTargetPolicy(f, data)).toThrow(/bad\.csv:1 field "probability"/);
    writeFileSync(f, 'record,action,probability\ne1,a,1\n');
    expect(() => targetProbabilities(fileTargetPolicy(f, data), data)).toThrow(/no probabilities for record "e2"/);
    expect(() => makeTargetPolicy('greedy', data)).toThrow(/unknown target policy "greedy"/);
  });

  it('position rows of a file apply to OBD records at that position; IPS of uniform on a uniform log is its mean click', () => {
    const ds = obdDataset(loadObd('men', 'random'));
    const f = join(dir, 'pos.csv');
    const lines = ['record,position,action,probability'];
    for (const p of [1, 2, 3]) for (let a = 0; a < 34; a++) lines.push(`*,${p},${a},${p === 1 ? (a === 0 ? 1 : 0) : 1 / 34}`);
    writeFileSync(f, lines.join('\n'));
    const t = targetProbabilities(fileTargetPolicy(f, ds), ds);
    const row = (i: number) => Array.from(t.subarray(i * 34, i * 34 + 34));
    const at = (p: number) => ds.position!.findIndex((x) => x === p);
    expect(row(at(1))[0]).toBe(1);
    expect(row(at(2))[0]).toBeCloseTo(1 / 34, 12);
    // Every weight is exactly 1: IPS equals the logged click rate.
    const r = estimate({ log: ds.log, target: targetProbabilities(uniformPolicy(ds), ds) }, ['ips', 'snips'], { bootstrap: 0 });
    expect(r.estimates.ips!.value).toBeCloseTo(46 / 10_000, 12);
    expect(r.ess).toBeCloseTo(10_000, 6);
  });

  it('scoredPolicy accepts any scorer', () => {
    const p = scoredPolicy('reverse', data, (record, out) => {
      for (let c = 0; c < out.length; c++) out[c] = -c;
    });
    expect(Array.from(targetProbabilities(p, data))).toEqual([1, 0, 0, 1, 0]);
  });
});
