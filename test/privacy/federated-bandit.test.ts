import { describe, expect, it } from 'vitest';
import { itemSpaceFromTrain } from '../../src/agents/state.js';
import { SeedRun, type SimSetup } from '../../src/eval/sim/runner.js';
import { trainFederatedLinUcb } from '../../src/federated/fed-linucb.js';
import { toyWorld } from '../env/toy-world.js';

function setup(): SimSetup {
  const { world, config, full, train } = toyWorld();
  const { items, userVectors } = itemSpaceFromTrain(train, { dim: 4, iterations: 3 });
  return { preset: { world, config }, ctx: { items, userVectors, nUsers: full.nUsers, slateSize: config.slateSize, horizon: config.horizon } };
}

const stats = (r: ReturnType<typeof trainFederatedLinUcb>) => r.agent.toJSON().state as { ainv: Float64Array; b: Float64Array };

describe('federated LinUCB (sufficient statistics summed over clients)', () => {
  const s = setup();
  const opts = { clients: 3, rounds: 4, stepsPerRound: 96, nEnvs: 8, seed: 2 };

  // With a profile too: the increments a client uploads must be built on the features its agent learns from.
  it.each([0, 1])('the server holds λI + Σ of every client’s increments: what each client’s own agent learned, added up (profile %s)', (profile) => {
    const ridge = 1;
    const r = trainFederatedLinUcb(s, { ...opts, rounds: 1, fixedPointBits: null, agent: { ridge, profile } });
    const server = stats(r);
    const d = server.b.length;
    // Each client started the round from λI and ended with (λI + ΔA_k)⁻¹ by Sherman–Morrison.
    const expected = new Float64Array(d * d);
    for (let i = 0; i < d; i++) expected[i * d + i] = ridge;
    for (const a of r.clientAgents) {
      const local = invert((a.toJSON().state as { ainv: Float64Array }).ainv, d);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) expected[i * d + j] += local[i * d + j]! - (i === j ? ridge : 0);
    }
    const got = invert(server.ainv, d);
    const scale = Math.max(...Array.from(expected, Math.abs));
    expect(scale).toBeGreaterThan(10 * ridge); // the clients really observed something
    for (let k = 0; k < d * d; k++) expect(Math.abs(got[k]! - expected[k]!) / scale).toBeLessThan(1e-8);
  });

  it('secure aggregation gives the same statistics bit for bit as plain fixed point; the seed reproduces them', () => {
    const plain = trainFederatedLinUcb(s, opts);
    const secure = trainFederatedLinUcb(s, { ...opts, secureAgg: true });
    expect(stats(secure).b).toEqual(stats(plain).b);
    expect(stats(secure).ainv).toEqual(stats(plain).ainv);
    expect(secure.setupBytes).toBe(3 * 32 + 3 * 2 * 32);
    expect(trainFederatedLinUcb(s, opts).rounds).toEqual(plain.rounds);
    expect(stats(trainFederatedLinUcb(s, { ...opts, seed: 3 })).b).not.toEqual(stats(plain).b);
  });

  it('runs exactly stepsPerRound user-steps per client when nEnvs does not divide it', () => {
    // 20 = 2 batches of 8 and a tail of 4 (the loop used to run 3 batches of 8: 24).
    const r = trainFederatedLinUcb(s, { ...opts, rounds: 2, stepsPerRound: 20 });
    expect(r.rounds.map((x) => x.userSteps)).toEqual([3 * 20, 3 * 20]);
    const even = trainFederatedLinUcb(s, { ...opts, rounds: 2, stepsPerRound: 16 });
    expect(even.rounds.map((x) => x.userSteps)).toEqual([3 * 16, 3 * 16]);
    // Fewer steps than sessions: the tail batch alone.
    expect(trainFederatedLinUcb(s, { ...opts, rounds: 1, stepsPerRound: 5 }).rounds[0]!.userSteps).toBe(15);
  });

  it('refuses secure aggregation with a lone client (a sum of one is that client’s statistics)', () => {
    expect(() => trainFederatedLinUcb(s, { ...opts, clients: 1, secureAgg: true })).toThrow(/at least 2 clients/);
  });

  it('learns: the federated agent beats the untrained one in evaluation and keeps up with central training on the same steps', () => {
    // 4 clients × 10 rounds × 48 user-steps = 1,920 steps, against one agent trained centrally for as many.
    const fed = trainFederatedLinUcb(s, { clients: 4, rounds: 10, stepsPerRound: 48, nEnvs: 8, seed: 2 });
    const evaluate = (steps: number, stats?: ReturnType<typeof trainFederatedLinUcb>) => {
      const run = new SeedRun(s, { agent: 'linucb', trainSteps: steps, nEnvs: 8, curvePoints: 1 }, 5);
      run.train(steps);
      if (stats) run.agent.load({ ...stats.agent.toJSON(), config: run.agent.toJSON().config });
      return run.evaluate(400);
    };
    const untrained = evaluate(0);
    const central = evaluate(1920);
    const federated = evaluate(0, fed);
    expect(central.return).toBeGreaterThan(untrained.return * 1.2);
    expect(federated.return).toBeGreaterThan(untrained.return * 1.2);
    expect(federated.return).toBeGreaterThan(central.return * 0.9);
    expect(fed.rounds.every((r) => r.participants === 4 && r.bytesUp > 0)).toBe(true);
  });
});

/** Gauss–Jordan inverse with partial pivoting (test oracle, independent of the module's Cholesky). */
function invert(m: Float64Array, d: number): Float64Array {
  const a = Array.from({ length: d }, (_, i) => [...Array.from(m.subarray(i * d, (i + 1) * d)), ...Array.from({ length: d }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    [a[c], a[p]] = [a[p]!, a[c]!];
    const piv = a[c]![c]!;
    for (let k = 0; k < 2 * d; k++) a[c]![k]! /= piv;
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = a[r]![c]!;
      for (let k = 0; k < 2 * d; k++) a[r]![k]! -= f * a[c]![k]!;
    }
  }
  return Float64Array.from(a.flatMap((row) => row.slice(d)));
}
