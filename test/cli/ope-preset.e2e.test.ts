import { describe, expect, it } from 'vitest';
import { runCli } from './helpers.js';

// Builds sim-ml-ls-v1 from ../shared/datasets/ml-latest-small (about 10 s), hence e2e.
describe('chorus ope --preset', () => {
  it('prints the estimates with the on-policy truth and relative errors as JSON', async () => {
    const r = await runCli(['ope', '--preset', 'sim-ml-ls-v1', '--behaviour', 'random', '--policy', 'random', '--decisions', '300', '--seeds', '1', '--bootstrap', '50', '--train-steps', '0', '--estimators', 'ips,snips', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { estimates: Record<string, { value: number; ci95: [number, number] }>; n: number; ess: number; truth: { value: number; ci95: [number, number] }; relativeError: Record<string, number>; loggedMean: number };
    expect(Object.keys(out.estimates).sort()).toEqual(['ips', 'snips']);
    expect(out.n).toBe(300);
    // Target = behaviour: every weight is 1, so IPS is the logged mean and the ESS is n.
    expect(out.estimates.ips!.value).toBeCloseTo(out.loggedMean, 12);
    expect(out.ess).toBeCloseTo(300, 6);
    expect(out.truth.ci95[0]).toBeLessThan(out.truth.value);
    // The truth is the same policy run on-policy on other sessions: the estimate and the truth are
    // two independent means of one value, so they lie within the sum of their interval half-widths.
    const half = (ci: [number, number]): number => (ci[1] - ci[0]) / 2;
    expect(Math.abs(out.estimates.ips!.value - out.truth.value)).toBeLessThan(half(out.estimates.ips!.ci95) + half(out.truth.ci95));
    expect(out.relativeError.ips).toBeCloseTo(Math.abs(out.estimates.ips!.value - out.truth.value) / Math.abs(out.truth.value), 12);
  }, 120_000);
});
