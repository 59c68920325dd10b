import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSetup } from '../../src/eval/sim/setup.js';
import { collectSessionLog, writeSessionLog } from '../../src/ope/learn/session-log.js';
import { runCli } from '../cli/helpers.js';

describe('chorus simulate --agent bc|cql -p log=<file>', () => {
  it('learns from a session log logged in the simulator and reports its on-policy return', async () => {
    const setup = await buildSetup({ preset: 'sim-ml-ls-v1', dataDir: 'data/demo' });
    const log = collectSessionLog(setup, { agent: 'popularity', steps: 300, seed: 1, epsilon: 0.2 });
    const file = join(mkdtempSync(join(tmpdir(), 'chorus-offline-')), 'sessions.jsonl');
    writeSessionLog(file, log);
    for (const agent of ['bc', 'cql']) {
      const r = await runCli(['--json', 'simulate', '--data', 'data/demo', '--agent', agent, '-p', `log=${file}`, '-p', 'steps=30', '--seeds', '1', '--eval-sessions', '10', '--no-report']);
      expect(r.code, r.stderr).toBe(0);
      const run = (JSON.parse(r.stdout) as { runs: { agent: string; trainSteps: number; return: { mean: number } }[] }).runs[0]!;
      expect(run.agent).toBe(agent);
      expect(run.trainSteps).toBe(0); // learned from the log, not by interaction
      expect(run.return.mean).toBeGreaterThan(0);
    }
    const missing = await runCli(['simulate', '--data', 'data/demo', '--agent', 'cql', '-p', `log=${file}.missing`, '--seeds', '1', '--eval-sessions', '5', '--no-report']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/sessions\.jsonl\.missing.*cannot read the session log/);
  }, 120_000);
});
