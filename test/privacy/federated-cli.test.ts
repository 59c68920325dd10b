import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir, writeTinyMovieLens } from '../cli/helpers.js';

describe('chorus train --federated', () => {
  it('trains federated ALS with secure aggregation and client DP; --json has "federated" and "privacy"', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 40, 60);
    const out = `${dir}/fed.model.json`;
    const args = ['train', '--federated', '--clients', '4', '--rounds', '3', '--secure-agg', '--data', dir, '--out', out, '-p', 'factors=4'];
    const r = await runCli([...args, '--json', '--client-fraction', '0.5', '--dp-epsilon', '5', '--dp-clip', '0.5']);
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout) as {
      model: string;
      federated: {
        clients: number;
        secureAgg: boolean;
        minParticipants: number;
        nonPrivate: string[];
        rounds: { round: number; participants: number; skipped: boolean; bytesUp: number; epsilon: number; loss: number }[];
        setupBytes: number;
      };
      privacy: { epsilon: number; delta: number; unit: string; mechanism: string; clip: number; thresholdDelta: number };
    };
    expect(o.model).toBe('als');
    expect(o.federated.clients).toBe(4);
    expect(o.federated.secureAgg).toBe(true);
    expect(o.federated.rounds.map((x) => x.round)).toEqual([1, 2, 3]);
    expect(o.federated.setupBytes).toBe(4 * 32 + 4 * 3 * 32);
    expect(o.privacy).toMatchObject({ unit: 'client', mechanism: 'dp-fedavg', delta: 0.25, clip: 0.5 });
    expect(o.privacy.epsilon).toBeLessThanOrEqual(5);
    expect(o.federated.rounds[2]!.epsilon).toBe(o.privacy.epsilon);
    // Threshold t = 2 by default; a round with fewer sampled clients is skipped and sends nothing.
    expect(o.federated.minParticipants).toBe(2);
    for (const x of o.federated.rounds) expect([x.skipped, x.skipped ? x.bytesUp : 1]).toEqual([x.participants < 2, x.skipped ? 0 : 1]);
    // 4 clients at q = 0.5 for 3 rounds: P[Bin(3, 0.5) ≤ 1] = 1/2 per round, so δ grows by 1 − 1/8.
    expect(o.privacy.thresholdDelta).toBeCloseTo(0.875, 12);
    expect(o.federated.nonPrivate).toEqual(expect.arrayContaining(['participants', 'meanUpdateNorm', 'loss']));
    expect(existsSync(out)).toBe(true);
    // The saved file is an ALS model: recommend reads it.
    const rec = await runCli(['recommend', '--model-file', out, '--user', '1', '-k', '3']);
    expect(rec.code, rec.stderr).toBe(0);

    const human = await runCli(args);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/round 1\/3: 4 clients, down [\d.]+ MB, up [\d.]+ MB, loss [\d.]+/);
    expect(human.stdout).toMatch(/communication: down [\d.]+ MB, up [\d.]+ MB, key setup 512 bytes/);
    expect(human.stdout).not.toMatch(/privacy:/);

    // A threshold above most samples: the skipped rounds say so, in the same places as in --json.
    const sparse = ['train', '--federated', '--clients', '4', '--rounds', '6', '--client-fraction', '0.5', '--secure-agg', '--min-clients', '3', '--data', dir, '--out', out, '-p', 'factors=4'];
    const sj = await runCli([...sparse, '--json']);
    expect(sj.code, sj.stderr).toBe(0);
    const skipped = (JSON.parse(sj.stdout) as { federated: { rounds: { skipped: boolean; participants: number }[] } }).federated.rounds.map((x) => x.skipped);
    expect(skipped).toContain(true);
    const sh = await runCli(sparse);
    expect(sh.code, sh.stderr).toBe(0);
    const lines = sh.stdout.split('\n').filter((l) => l.startsWith('round '));
    expect(lines.map((l) => /skipped \(secure aggregation needs at least 3\)/.test(l))).toEqual(skipped);
    expect(sh.stdout).toContain(`skipped: ${skipped.filter(Boolean).length} of 6 rounds sampled fewer than 3 clients`);
  });

  it('refuses federated flags without --federated, other models, and two ways to set the noise', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 10, 20);
    const noFed = await runCli(['train', '--data', dir, '--clients', '3']);
    expect(noFed.code).not.toBe(0);
    expect(noFed.stderr).toMatch(/--clients applies to federated training/);
    const bpr = await runCli(['train', '--federated', '--model', 'bpr', '--data', dir]);
    expect(bpr.stderr).toMatch(/"bpr" has no federated path/);
    const both = await runCli(['train', '--federated', '--data', dir, '--dp-epsilon', '1', '--dp-noise', '2']);
    expect(both.stderr).toMatch(/not both/);
    const log = await runCli(['train', '--federated', '--data', dir, '--log', `${dir}/events.jsonl`]);
    expect(log.code).not.toBe(0);
    expect(log.stderr).toMatch(/--log applies to agent training/);
    const minNoAgg = await runCli(['train', '--federated', '--data', dir, '--min-clients', '3']);
    expect(minNoAgg.stderr).toMatch(/--min-clients is the secure-aggregation threshold: add --secure-agg/);
    const minTooMany = await runCli(['train', '--federated', '--data', dir, '--clients', '3', '--secure-agg', '--min-clients', '4']);
    expect(minTooMany.code).not.toBe(0);
    expect(minTooMany.stderr).toMatch(/needs at least 4 clients, got 3/);
  });
});
