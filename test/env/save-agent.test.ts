/** `simulate --save-agent`: the agent trained on the first seed, saved to disk, acts as it did in memory. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAgentFile } from '../../src/agents/agent-file.js';
import { restoreAgent } from '../../src/agents/registry.js';
import { buildSetup } from '../../src/eval/sim/setup.js';
import { runSimulation, type SavedSimAgent } from '../../src/eval/sim/simulate.js';
import { SeedRun } from '../../src/eval/sim/runner.js';
import { Rng } from '../../src/util/rng.js';
import { runCli, tempDir, writeTinyMovieLens } from '../cli/helpers.js';

describe('saving a simulator-trained agent', () => {
  it('saves the first seed\'s trained agent; restored, it shows the same slates as the agent in memory', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 40, 80, 5);
    const file = join(dir, 'agents', 'linucb.json');
    const base = { preset: 'sim-ml-ls-v1', dataDir: dir, agent: 'linucb', trainSteps: 400, seeds: 2, evalSessions: 10, workers: 1 };
    await runSimulation({ ...base, saveAgent: file });
    const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedSimAgent;
    expect(saved).toMatchObject({ format: 'chorus-agent', version: 2, agent: { kind: 'linucb' }, trainedOn: { preset: 'sim-ml-ls-v1', seed: 1, trainSteps: 400 } });
    // The same seed trained again in memory: its state is what was saved, and it acts the same.
    const setup = await buildSetup({ preset: base.preset, dataDir: dir });
    const run = new SeedRun(setup, { agent: 'linucb', trainSteps: 400, nEnvs: 16, curvePoints: 20 }, 1);
    while (run.trainStepsDone < 400) run.train(400);
    expect(readAgentFile(file).agent).toEqual(run.agent.toJSON());
    // Seeds on worker threads save the same agent.
    const viaWorkers = join(dir, 'agents', 'linucb-workers.json');
    await runSimulation({ ...base, workers: 2, saveAgent: viaWorkers });
    expect((JSON.parse(readFileSync(viaWorkers, 'utf8')) as SavedSimAgent).agent).toEqual(saved.agent);
    const restored = restoreAgent(readAgentFile(file).agent, setup.ctx);
    const rng = new Rng(9);
    for (let t = 0; t < 20; t++) {
      const obs = { user: rng.int(setup.ctx.nUsers), history: Int32Array.from({ length: 3 }, () => rng.int(setup.ctx.items.nItems)), t: t % 5 };
      expect(Array.from(restored.act(obs, 10).items)).toEqual(Array.from(run.agent.act(obs, 10).items));
    }
  });

  it('the CLI saves with --save-agent and refuses it for several agents', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 30, 60, 6);
    const file = join(dir, 'egreedy.json');
    const ok = await runCli(['simulate', '--agent', 'egreedy', '--steps', '200', '--seeds', '1', '--eval-sessions', '5', '--workers', '1', '--data', dir, '--no-report', '--save-agent', file, '--json']);
    expect(ok.code).toBe(0);
    expect((JSON.parse(readFileSync(file, 'utf8')) as SavedSimAgent).agent.kind).toBe('egreedy');
    const bad = await runCli(['simulate', '--agent', 'egreedy,linucb', '--data', dir, '--save-agent', file, '--json']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/save-agent/);
  });

  it('chorus train --agent trains in the simulator and saves what simulate --save-agent would', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 30, 60, 8);
    const viaTrain = join(dir, 'trained.json');
    const viaSim = join(dir, 'simulated.json');
    const t = await runCli(['train', '--agent', 'linucb', '--steps', '300', '--data', dir, '--out', viaTrain, '--json']);
    expect(t.code, t.stderr).toBe(0);
    const doc = JSON.parse(t.stdout);
    expect(doc).toMatchObject({ agent: 'linucb', agentFile: viaTrain });
    // Steps run in whole batches of the 16 parallel sessions, as in simulate.
    expect(doc.trainSteps).toBeGreaterThanOrEqual(300);
    const s = await runCli(['simulate', '--agent', 'linucb', '--steps', '300', '--seeds', '1', '--eval-sessions', '5', '--workers', '1', '--data', dir, '--no-report', '--save-agent', viaSim, '--json']);
    expect(s.code, s.stderr).toBe(0);
    const a = JSON.parse(readFileSync(viaTrain, 'utf8')) as SavedSimAgent;
    const b = JSON.parse(readFileSync(viaSim, 'utf8')) as SavedSimAgent;
    expect(a.agent).toEqual(b.agent);
    const bad = await runCli(['train', '--agent', 'random', '--data', dir, '--out', viaTrain]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/does not learn/);
  });
});
