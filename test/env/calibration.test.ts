/**
 * sim-ml-ls-v1 on the real ml-latest-small: the calibration statistics documented in
 * docs/simulator.md ("Calibration ranges") hold for the reference policies.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAgent } from '../../src/agents/registry.js';
import { itemSpaceFromTrain, type AgentContext } from '../../src/agents/state.js';
import { buildPreset } from '../../src/env/presets.js';
import { VecEnv } from '../../src/env/vec-env.js';
import { loadSimData } from '../../src/eval/sim/data.js';

const DIR = resolve(process.cwd(), '../shared/datasets/ml-latest-small');
// No skip when ../shared is missing: the load fails and names the folder.
const data = await loadSimData(DIR);

describe('sim-ml-ls-v1 calibration (ml-latest-small)', () => {
  const preset = buildPreset('sim-ml-ls-v1', data.full, data.train);
  const { items } = itemSpaceFromTrain(data.train, { dim: 4, iterations: 1 });
  const ctx: AgentContext = { items, nUsers: data.full.nUsers, slateSize: 10, horizon: preset.config.horizon };

  function stats(agentName: string, sessions: number) {
    const agent = createAgent(agentName, ctx, { seed: 1 });
    agent.setTraining(false);
    const n = 50;
    const env = new VecEnv(preset.world, preset.config, n);
    let obs = env.reset(2024);
    const K = preset.config.slateSize;
    const buf = new Int32Array(n * K);
    let done = 0;
    let steps = 0;
    let clicks = 0;
    let length = 0;
    let ratingSum = 0;
    let nRatings = 0;
    let firstSteps = 0;
    let firstClicks = 0;
    while (done < sessions) {
      for (let s = 0; s < n; s++) buf.set(agent.act(obs[s]!, K).items, s * K);
      const first = obs.map((o) => o.t === 0);
      const r = env.step(buf);
      for (let s = 0; s < n; s++) {
        let c = 0;
        for (let p = 0; p < K; p++) {
          c += r.clicks[s * K + p]!;
          const rt = r.ratings[s * K + p]!;
          if (!Number.isNaN(rt)) (ratingSum += rt), nRatings++;
        }
        steps++;
        clicks += c;
        if (first[s]) (firstSteps += 1), (firstClicks += c);
        if (r.done[s]) (done += 1), (length += r.episodeLength[s]!);
      }
      obs = r.observations;
    }
    return { ctr: clicks / steps, sessionLength: length / done, rating: ratingSum / nRatings, firstCtr: firstClicks / firstSteps };
  }

  it('hidden preferences are fitted on the full data; opening histories come from the train split', () => {
    expect(preset.world.stats.ratings).toBe(100836);
    expect(data.train.nInteractions).toBe(80896);
    expect(preset.world.stats.trainRmse).toBeLessThan(0.8);
    expect(preset.world.users.length).toBe(610);
  });

  it('random policy: CTR in [0.04, 0.16], session length in [2.5, 5.5]', () => {
    const s = stats('random', 1000);
    expect(s.ctr).toBeGreaterThan(0.04);
    expect(s.ctr).toBeLessThan(0.16);
    expect(s.sessionLength).toBeGreaterThan(2.5);
    expect(s.sessionLength).toBeLessThan(5.5);
  });

  it('popularity policy: first-step CTR at the calibration target 0.35 ± 0.04, CTR in [0.3, 0.6], session length in [6, 14], mean rating in [3.8, 4.8]', () => {
    const s = stats('popularity', 1000);
    expect(Math.abs(s.firstCtr - preset.config.calibration.targetFirstStepCtr)).toBeLessThan(0.04);
    expect(s.ctr).toBeGreaterThan(0.3);
    expect(s.ctr).toBeLessThan(0.6);
    expect(s.sessionLength).toBeGreaterThan(6);
    expect(s.sessionLength).toBeLessThan(14);
    expect(s.rating).toBeGreaterThan(3.8);
    expect(s.rating).toBeLessThan(4.8);
  });
});
