import { describe, expect, it } from 'vitest';
import { privacyOptions, withPrivacy, dpModels } from '../../src/cli/privacy-flags.js';
import { ConfigError } from '../../src/errors.js';
import { runCli, tempDir, writeTinyMovieLens } from '../cli/helpers.js';

describe('privacy flags', () => {
  it('validates ε > 0 and 0 < δ < 1, naming the flag', () => {
    expect(privacyOptions({})).toBeUndefined();
    expect(privacyOptions({ dpEpsilon: '8' })).toEqual({ epsilon: 8 });
    expect(privacyOptions({ dpEpsilon: '1', dpDelta: '1e-5' })).toEqual({ epsilon: 1, delta: 1e-5 });
    for (const bad of ['0', '-1', 'abc', '', 'Infinity']) expect(() => privacyOptions({ dpEpsilon: bad })).toThrow(/dp-epsilon/);
    for (const bad of ['0', '1', '2', 'x']) expect(() => privacyOptions({ dpEpsilon: '1', dpDelta: bad })).toThrow(/dp-delta/);
    expect(() => privacyOptions({ dpDelta: '0.001' })).toThrow(ConfigError);
    expect(privacyOptions({ dpEpsilon: '8', dpUnit: 'interaction' })).toEqual({ epsilon: 8, unit: 'interaction' });
    expect(privacyOptions({ dpEpsilon: '8', dpUnit: 'user' })).toEqual({ epsilon: 8 });
    expect(() => privacyOptions({ dpEpsilon: '8', dpUnit: 'item' })).toThrow(/dp-unit.*expected user or interaction/s);
    expect(() => privacyOptions({ dpUnit: 'interaction' })).toThrow(/--dp-unit needs --dp-epsilon/);
  });

  it('passes the interaction unit to MF and BPR and refuses it for the count models', () => {
    expect(withPrivacy('bpr', {}, { epsilon: 8, unit: 'interaction' })).toEqual({ dp: { epsilon: 8, unit: 'interaction' } });
    expect(() => withPrivacy('ease', {}, { epsilon: 8, unit: 'interaction' })).toThrow(/"ease" protects users only/);
  });

  it('turns the budget into the model\'s dp option and refuses models without a DP path', () => {
    expect(dpModels()).toEqual(expect.arrayContaining(['popularity', 'itemknn', 'ease', 'mf', 'bpr']));
    expect(dpModels()).not.toContain('als');
    expect(withPrivacy('bpr', { factors: 8, dp: { steps: 5, noiseMultiplier: 2 } }, { epsilon: 4 })).toEqual({ factors: 8, dp: { steps: 5, epsilon: 4 } });
    expect(() => withPrivacy('als', {}, { epsilon: 4 })).toThrow(/"als" has no differentially private path; models with one: .*bpr/);
  });
});

describe('chorus evaluate --dp-epsilon', () => {
  it('reaches the model and the --json output (privacy field, stamp), δ = 1/n by default', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 30, 60);
    const r = await runCli(['evaluate', '--model', 'popularity', '--data', dir, '--json', '--bootstrap', '0', '--dp-epsilon', '2']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { privacy: Record<string, unknown>; stamp: { privacy: Record<string, unknown> }; hyperparameters: { dp: Record<string, number> } };
    expect(out.privacy).toMatchObject({ epsilon: 2, unit: 'user', mechanism: 'gaussian' });
    expect(out.privacy.delta).toBeCloseTo(1 / 30, 12);
    expect(out.stamp.privacy).toEqual(out.privacy);
    expect(out.hyperparameters.dp.noiseMultiplier).toBeGreaterThan(0);

    const human = await runCli(['evaluate', '--model', 'bpr', '--data', dir, '--bootstrap', '0', '--dp-epsilon', '4', '--dp-delta', '0.001', '-p', 'factors=4']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/privacy: \(ε = [\d.]+, δ = 0\.001\d*\) spent, user-level, dp-sgd/);
    expect(human.stdout).toMatch(/\| privacy ε=[\d.]+ δ=0\.001\d* user-level dp-sgd \|/);

    const inter = await runCli(['evaluate', '--model', 'bpr', '--data', dir, '--json', '--bootstrap', '0', '--dp-epsilon', '4', '--dp-unit', 'interaction', '-p', 'factors=4']);
    expect(inter.code, inter.stderr).toBe(0);
    const ip = (JSON.parse(inter.stdout) as { privacy: { unit: string; delta: number; epsilon: number } }).privacy;
    expect(ip.unit).toBe('interaction');
    // δ = 1/N over the training interactions, far below 1/30 users.
    expect(ip.delta).toBeLessThan(1 / 300);
    expect(ip.epsilon).toBeLessThanOrEqual(4);

    const plain = JSON.parse((await runCli(['evaluate', '--model', 'popularity', '--data', dir, '--json', '--bootstrap', '0'])).stdout) as Record<string, unknown>;
    expect(plain.privacy).toBeUndefined();
  });

  it('refuses the flag for a model without a DP path, naming the models that have one', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 20, 40);
    const r = await runCli(['evaluate', '--model', 'als', '--data', dir, '--dp-epsilon', '1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/dp-epsilon.*"als" has no differentially private path; models with one: popularity, itemknn/);
  });
});

describe('chorus train --dp-epsilon', () => {
  it('trains the model at the budget and reports what it spent; refuses it for an agent', async () => {
    const dir = tempDir();
    writeTinyMovieLens(dir, 30, 60);
    const out = `${dir}/pop.model.json`;
    const r = await runCli(['train', '--model', 'popularity', '--data', dir, '--out', out, '--json', '--dp-epsilon', '3', '--dp-delta', '0.01']);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as { privacy: Record<string, unknown>; hyperparameters: { dp: Record<string, number> } };
    expect(info.privacy).toMatchObject({ epsilon: 3, delta: 0.01, unit: 'user', mechanism: 'gaussian' });
    expect(info.hyperparameters.dp.noiseMultiplier).toBeGreaterThan(0);
    const human = await runCli(['train', '--model', 'bpr', '--data', dir, '--out', `${dir}/bpr.model.json`, '--dp-epsilon', '4', '-p', 'factors=4']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/privacy: \(ε = [\d.]+, δ = [\d.e-]+\) spent, user-level, dp-sgd/);
    const agent = await runCli(['train', '--agent', 'linucb', '--data', dir, '--dp-epsilon', '1']);
    expect(agent.code).not.toBe(0);
    expect(agent.stderr).toMatch(/dp-epsilon/);
  });
});
