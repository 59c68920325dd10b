import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { itemSpaceFromTrain } from '../../src/agents/state.js';
import { SeedRun, type SimSetup } from '../../src/eval/sim/runner.js';
import { writeSimReport } from '../../src/eval/sim/report.js';
import type { SimulationResult } from '../../src/eval/sim/simulate.js';
import { meanCi } from '../../src/eval/sim/stats.js';
import { toyWorld } from './toy-world.js';

function setup(): SimSetup {
  const { world, config, full, train } = toyWorld();
  const { items, userVectors } = itemSpaceFromTrain(train, { dim: 4, iterations: 3 });
  return { preset: { world, config }, ctx: { items, userVectors, nUsers: full.nUsers, slateSize: config.slateSize, horizon: config.horizon } };
}

describe('simulation runner', () => {
  const s = setup();
  const opts = { agent: 'linucb', trainSteps: 400, nEnvs: 8, curvePoints: 4 };

  it('trains for the budget, evaluates exactly the requested sessions, and is deterministic per seed', () => {
    const run = (seed: number) => {
      const r = new SeedRun(s, opts, seed);
      while (r.trainStepsDone < opts.trainSteps) r.train(100);
      return r.evaluate(60);
    };
    const a = run(1);
    expect(a.sessions).toBe(60);
    expect(a.curve.steps).toEqual([100, 200, 300, 400]);
    expect(a.ctr).toBeGreaterThan(0);
    expect(a.ctr).toBeLessThanOrEqual(1);
    expect(a.sessionLength).toBeGreaterThanOrEqual(1);
    expect(a.sessionLength).toBeLessThanOrEqual(s.preset.config.horizon);
    expect(a.exposureGini).toBeGreaterThanOrEqual(0);
    expect(a.exposureGini).toBeLessThanOrEqual(1);
    expect(a.coldExposureShare).toBeGreaterThanOrEqual(0);
    expect(a.coldExposureShare).toBeLessThanOrEqual(1);
    const { trainSeconds: _t1, evalSeconds: _e1, ...restA } = a;
    const { trainSeconds: _t2, evalSeconds: _e2, ...restB } = run(1);
    expect(restB).toEqual(restA);
    expect(run(2).return).not.toBe(a.return);
  });

  it('evaluate(…, policy) acts with the policy on the same sessions: the agent as policy gives the agent’s numbers', () => {
    const base = new SeedRun(s, { ...opts, agent: 'popularity' }, 3);
    const viaPolicy = new SeedRun(s, { ...opts, agent: 'popularity' }, 3);
    const slots = new Set<number>();
    const a = base.evaluate(40);
    const b = viaPolicy.evaluate(40, undefined, (obs, slot, env) => {
      slots.add(slot);
      expect(env.userOf(slot)).toBe(obs.user);
      return viaPolicy.agent.act(obs, s.preset.config.slateSize);
    });
    expect(b.return).toBe(a.return);
    expect(b.exposureGini).toBe(a.exposureGini);
    expect([...slots].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // A policy that shows nothing gets no clicks on the same sessions.
    const none = new SeedRun(s, { ...opts, agent: 'popularity' }, 3).evaluate(40, undefined, () => ({ items: new Int32Array(0) }));
    expect(none.ctr).toBe(0);
    expect(a.ctr).toBeGreaterThan(0);
  });

  it('non-learning agents skip training', () => {
    const r = new SeedRun(s, { ...opts, agent: 'popularity' }, 1);
    expect(r.train(400)).toBe(400);
    expect(r.evaluate(20).curve.steps).toEqual([]);
  });

  it('meanCi: Student-t interval over seeds', () => {
    const ci = meanCi([1, 2, 3, 4, 5]);
    expect(ci.mean).toBe(3);
    // sd = 1.5811, t(4) = 2.776 → half-width 1.963
    expect(ci.ci95[0]).toBeCloseTo(3 - 1.963, 2);
    expect(ci.ci95[1]).toBeCloseTo(3 + 1.963, 2);
  });

  it('writes a report folder with Markdown and SVG plots', async () => {
    const r = new SeedRun(s, opts, 1);
    while (r.trainStepsDone < opts.trainSteps) r.train(200);
    const m = r.evaluate(30);
    const result: SimulationResult = {
      protocol: 'P3', preset: 'toy', presetVersion: 1, agent: 'linucb', agentConfig: {}, seeds: 1, seedList: [1], trainSteps: 400, evalSessions: 30,
      gamma: 0.95, lambda: 0.1, alpha: 0.1, embeddings: 'none', return: meanCi([m.return]), ctr: m.ctr, sessionLength: m.sessionLength, exposureGini: m.exposureGini,
      coldExposureShare: m.coldExposureShare,
      intervals: { ctr: meanCi([m.ctr]), sessionLength: meanCi([m.sessionLength]), exposureGini: meanCi([m.exposureGini]), coldExposureShare: meanCi([m.coldExposureShare]), undiscountedReturn: meanCi([m.undiscountedReturn]) },
      parts: m.parts, curve: { steps: m.curve.steps, mean: m.curve.value, lo: m.curve.value, hi: m.curve.value }, perSeed: [m], wallSeconds: 1,
      data: { name: 'toy-data', file: 'toy.csv', sha256: 'abcdef0123456789', split: 'random20', valueMapping: 'user-percentile' },
    };
    const dir = await mkdtemp(join(tmpdir(), 'chorus-sim-report-'));
    await writeSimReport(dir, [result, { ...result, agent: 'other' }]);
    const files = await readdir(dir);
    for (const f of ['report.md', 'results.json', 'learning-curves.svg', 'return.svg', 'ctr.svg', 'session-length.svg', 'exposure-gini.svg', 'cold-exposure.svg']) expect(files).toContain(f);
    const svg = await readFile(join(dir, 'learning-curves.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('<polyline');
    expect(await readFile(join(dir, 'return.svg'), 'utf8')).toContain('<rect');
    const md = await readFile(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('| linucb |');
    // The report names the data it ran on, not ml-latest-small.
    expect(md).toContain('dataset toy-data (sha256 abcdef012345, values mapped to 0.5–5 stars by user-percentile)');
    expect(md).not.toContain('ml-latest-small');
  });
});
