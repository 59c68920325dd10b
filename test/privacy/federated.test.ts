import { describe, expect, it } from 'vitest';
import { datasetFromTriples, type Dataset } from '../../src/data/dataset.js';
import { alsHalfSweep, userRows } from '../../src/federated/als-client.js';
import { FederatedAls } from '../../src/federated/fed-als.js';
import { Aggregator } from '../../src/federated/aggregate.js';
import { FEDAVG_DEFAULTS, runFedAvg, thresholdDelta, type FederatedClient, type RoundReport } from '../../src/federated/fedavg.js';
import { partitionUsers } from '../../src/federated/partition.js';
import { dpSgdEpsilon } from '../../src/privacy/accountant.js';
import { clipUpdate, planClientDp } from '../../src/privacy/federated/client-dp.js';
import { addMod32, decodeFixed, encodeFixed, SecAggParty, sumMasked } from '../../src/privacy/federated/secure-agg.js';
import { Als, implicitMatrix } from '../../src/recommenders/als.js';
import { Rng } from '../../src/util/rng.js';

/** Parties 0..n−1 that have all agreed keys with each other (public keys exchanged through the "server"). */
function parties(n: number): SecAggParty[] {
  const ps = Array.from({ length: n }, (_, i) => new SecAggParty(i));
  for (const a of ps) for (const b of ps) if (a !== b) a.agree(b.id, b.publicKey);
  return ps;
}

function randomUpdate(rng: Rng, d: number): Float64Array {
  return Float64Array.from({ length: d }, () => rng.normal() * 0.3);
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let k = 0; k < n; k++) {
    ma += a[k]! / n;
    mb += b[k]! / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let k = 0; k < n; k++) {
    sab += (a[k]! - ma) * (b[k]! - mb);
    saa += (a[k]! - ma) ** 2;
    sbb += (b[k]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

describe('secure aggregation (pairwise masks)', () => {
  it('masked sum equals the plain fixed-point sum bit for bit, for every subset of participants', () => {
    const rng = new Rng(1);
    const ps = parties(5);
    const d = 1000;
    const updates = ps.map(() => encodeFixed(randomUpdate(rng, d), 20));
    for (const [round, ids] of [[1, [0, 1, 2, 3, 4]], [2, [1, 3, 4]], [3, [0, 2]]] as const) {
      const plain = new Uint32Array(d);
      for (const i of ids) addMod32(plain, updates[i]!);
      const masked = ids.map((i) => ps[i]!.mask(updates[i]!, round, ids));
      // The masks are really there: no masked vector equals its plain update.
      masked.forEach((m, t) => expect(m).not.toEqual(updates[ids[t]!]));
      expect(sumMasked(masked)).toEqual(plain);
    }
  });

  it('a missing participant leaves its masks in the sum (no dropout recovery)', () => {
    const ps = parties(3);
    const u = ps.map((_, i) => encodeFixed(new Float64Array(50).fill(i + 1), 16));
    const ids = [0, 1, 2];
    const partial = sumMasked([ps[0]!.mask(u[0]!, 1, ids), ps[1]!.mask(u[1]!, 1, ids)]);
    const plain = new Uint32Array(50);
    addMod32(plain, u[0]!);
    addMod32(plain, u[1]!);
    expect(partial).not.toEqual(plain);
  });

  it('a single masked update is uncorrelated with the update and looks uniform', () => {
    const rng = new Rng(2);
    const ps = parties(4);
    const d = 20000;
    // A strongly structured update (a ramp plus noise), so any leak would show as correlation.
    const x = Float64Array.from({ length: d }, (_, k) => (k / d - 0.5) * 4 + 0.1 * rng.normal());
    const enc = encodeFixed(x, 20);
    const masked = ps[0]!.mask(enc, 7, [0, 1, 2, 3]);
    const asSigned = Int32Array.from(masked, (v) => v | 0);
    expect(Math.abs(pearson(asSigned, x))).toBeLessThan(0.03);
    expect(Math.abs(pearson(Int32Array.from(enc, (v) => v | 0), x))).toBeGreaterThan(0.99);
    // Uniform on [0, 2^32): mean near 2^31 (sd of the mean ≈ 2^32/√(12d) ≈ 8.8e6).
    const mean = masked.reduce((s, v) => s + v, 0) / d;
    expect(Math.abs(mean - 2 ** 31)).toBeLessThan(5e7);
  });

  it('pairs derive the same secret by X25519, and masks change every round', () => {
    const [a, b] = parties(2);
    const zero = new Uint32Array(8);
    const m1 = a!.mask(zero, 1, [0, 1]);
    const m2 = a!.mask(zero, 2, [0, 1]);
    expect(m1).not.toEqual(m2);
    // b subtracts exactly what a adds.
    expect(sumMasked([m1, b!.mask(zero, 1, [0, 1])])).toEqual(zero);
  });

  it('fixed point round-trips within 2^-bits and refuses values that could overflow the sum', () => {
    const x = Float64Array.from([0, 1.5, -2.25, 1e-7, -1000]);
    const back = decodeFixed(encodeFixed(x, 20), 20);
    x.forEach((v, k) => expect(Math.abs(back[k]! - v)).toBeLessThanOrEqual(2 ** -21));
    expect(() => encodeFixed([3000], 20)).toThrow(/fixed-point range/);
  });

  it('checks the range on the rounded integer: a value that rounds onto 2^31 is refused, not wrapped', () => {
    // 2048 − 2^−22 at 20 bits is 2^31 − 1/4, which rounds to 2^31 and would read back as −2048.
    expect(() => encodeFixed([2048 - 2 ** -22], 20)).toThrow(/fixed-point range/);
    expect(() => encodeFixed([-(2048 - 2 ** -22)], 20)).toThrow(/fixed-point range/);
    // The largest value that fits: 2^31 − 1 units, round-tripping exactly.
    const top = 2048 - 2 ** -20;
    expect(decodeFixed(encodeFixed([top, -top], 20), 20)).toEqual(Float64Array.from([top, -top]));
    // For a sum of two, each word must stay within floor((2^31 − 1)/2) = 2^30 − 1 units.
    expect(() => encodeFixed([1024 - 2 ** -22], 20, 2)).toThrow(/sum of 2/);
    const half = 1024 - 2 ** -20;
    const sum = encodeFixed([half], 20, 2);
    addMod32(sum, encodeFixed([half], 20, 2));
    expect(decodeFixed(sum, 20)[0]).toBe(2 * half);
  });

  it('the aggregator refuses two clients whose sum would wrap, and sums the largest that fit exactly', () => {
    const agg = new Aggregator([0, 1], 1, { secureAgg: true, fixedPointBits: 20, seed: 1 });
    expect(() => agg.sum(1, [0, 1], () => Float64Array.of(1024 - 2 ** -22))).toThrow(/fixed-point range/);
    const half = 1024 - 2 ** -20;
    expect(agg.sum(2, [0, 1], () => Float64Array.of(half))[0]).toBe(2 * half);
  });

  it('refuses to mask for a participant alone in its round (its vector would go out as it is)', () => {
    const [a] = parties(2);
    const v = encodeFixed([0.5, -0.25], 20);
    expect(() => a!.mask(v, 1, [0])).toThrow(/at least 2 participants/);
    expect(() => a!.mask(v, 1, [])).toThrow(/at least 2 participants/);
    expect(a!.mask(v, 1, [0, 1])).not.toEqual(v);
    const agg = new Aggregator([0, 1, 2], 2, { secureAgg: true, fixedPointBits: 20, seed: 1 });
    expect(() => agg.sum(1, [2], () => Float64Array.of(1, 2))).toThrow(/threshold 2/);
    expect(() => new Aggregator([0, 1], 2, { secureAgg: true, fixedPointBits: 20, seed: 1, minParticipants: 3 })).toThrow(/at least 3 clients/);
  });
});

describe('secure-aggregation threshold in FedAvg', () => {
  /** Clients with a fixed update each, recording the rounds in which they trained. */
  function recorders(n: number): { clients: FederatedClient[]; trained: number[][] } {
    const trained: number[][] = Array.from({ length: n }, () => []);
    const clients = Array.from({ length: n }, (_, id) => ({
      id,
      size: 1,
      localUpdate: (_g: Float32Array, round: number, out: Float64Array) => {
        trained[id]!.push(round);
        out.fill(0.01 * (id + 1));
      },
    }));
    return { clients, trained };
  }

  function run(config: Partial<typeof FEDAVG_DEFAULTS>, n = 4, d = 5): { reports: RoundReport[]; changed: boolean[]; trained: number[][]; res: ReturnType<typeof runFedAvg> } {
    const { clients, trained } = recorders(n);
    const global = new Float32Array(d);
    let before = Float32Array.from(global);
    const changed: boolean[] = [];
    const res = runFedAvg(global, clients, { ...FEDAVG_DEFAULTS, rounds: 40, clientFraction: 0.5, seed: 4, ...config }, (_r, g) => {
      changed.push(g.some((v, k) => v !== before[k]));
      before = Float32Array.from(g);
    });
    return { reports: res.rounds, changed, trained, res };
  }

  it('skips every round that sampled fewer than t clients: nobody trains or sends, the model stays', () => {
    for (const t of [2, 3]) {
      const { reports, changed, trained } = run({ secureAgg: true, minParticipants: t });
      const skipped = reports.filter((r) => r.skipped);
      // With q = 0.5 over 4 clients, P(fewer than 2) = 5/16 and P(fewer than 3) = 11/16: both kinds occur in 40 rounds.
      expect(skipped.length).toBeGreaterThan(0);
      expect(skipped.length).toBeLessThan(reports.length);
      for (const [i, r] of reports.entries()) {
        expect(r.skipped).toBe(r.participants < t);
        const trainedThisRound = trained.filter((rounds) => rounds.includes(r.round)).length;
        expect(trainedThisRound).toBe(r.skipped ? 0 : r.participants);
        if (r.skipped) expect([r.bytesDown, r.bytesUp, changed[i]]).toEqual([0, 0, false]);
        else expect(changed[i]).toBe(true);
      }
    }
    // The same sampling without secure aggregation aggregates single clients: no threshold there.
    const plain = run({ secureAgg: false });
    expect(plain.reports.some((r) => r.participants === 1 && !r.skipped && r.bytesUp > 0)).toBe(true);
    expect(() => run({ secureAgg: true, minParticipants: 5 })).toThrow(/at least 5 clients/);
  });

  it('under DP a skipped round draws no noise, still counts for ε, and its δ cost is reported', () => {
    const { reports, changed, res } = run({ secureAgg: true, dp: { clip: 1, noiseMultiplier: 1 } });
    expect(reports.some((r) => r.skipped)).toBe(true);
    reports.forEach((r, i) => {
      expect(changed[i]).toBe(!r.skipped);
      expect(r.epsilon).toBeGreaterThan(i > 0 ? reports[i - 1]!.epsilon! : 0);
    });
    expect(res.dpThresholdDelta).toBe(thresholdDelta(4, 0.5, 40, 2));
    expect(res.nonPrivate).toEqual(expect.arrayContaining(['participants', 'meanUpdateNorm']));
    expect(run({ secureAgg: false, dp: { clip: 1, noiseMultiplier: 1 } }).res.dpThresholdDelta).toBeUndefined();
    expect(run({ secureAgg: true }).res.nonPrivate).toBeUndefined();
  });

  it('thresholdDelta is the chance that some round samples fewer than t of the other N − 1 clients', () => {
    // N = 4, q = 0.5, t = 2: P[Bin(3, 0.5) ≤ 1] = 4/8 per round; over 3 rounds 1 − 0.5³.
    expect(thresholdDelta(4, 0.5, 3, 2)).toBeCloseTo(0.875, 12);
    // N = 5, q = 0.3, t = 3, one round: P[Bin(4, 0.3) ≤ 2] = 0.2401 + 0.4116 + 0.2646.
    expect(thresholdDelta(5, 0.3, 1, 3)).toBeCloseTo(0.9163, 12);
    // Full participation: the others are all there (N − 1 ≥ t: nothing to pay) or never enough.
    expect(thresholdDelta(3, 1, 10, 2)).toBe(0);
    expect(thresholdDelta(2, 1, 10, 2)).toBe(1);
    // Many clients, a modest rate: a negligible cost.
    expect(thresholdDelta(1000, 0.05, 100, 2)).toBeLessThan(1e-15);
  });
});

describe('client-level DP', () => {
  it('clipping bounds every client update norm, and the server step is the mean of clipped updates', () => {
    const d = 30;
    const dirs = [0, 1, 2].map((k) => Float64Array.from({ length: d }, (_, j) => (j % 3 === k ? 100 : 1)));
    const clients: FederatedClient[] = dirs.map((dir, id) => ({ id, size: 1, localUpdate: (_g, _r, out) => out.set(dir) }));
    const global = new Float32Array(d);
    const clip = 0.5;
    const res = runFedAvg(global, clients, { ...FEDAVG_DEFAULTS, rounds: 1, fixedPointBits: null, dp: { clip, noiseMultiplier: 1e-9 } });
    expect(res.rounds[0]!.meanUpdateNorm).toBeGreaterThan(100);
    const expected = new Float64Array(d);
    for (const dir of dirs) {
      const c = Float64Array.from(dir);
      expect(clipUpdate(c, clip)).toBeGreaterThan(clip);
      expect(Math.hypot(...c)).toBeCloseTo(clip, 12);
      for (let j = 0; j < d; j++) expected[j] = expected[j]! + c[j]! / 3;
    }
    for (let j = 0; j < d; j++) expect(global[j]!).toBeCloseTo(expected[j]!, 5);
    expect(Math.hypot(...global)).toBeLessThanOrEqual(clip + 1e-6);
  });

  it('adds N(0, (σC)²) to the sum and divides by q·N; hands the accountant q, the rounds and δ = 1/N', () => {
    const N = 40;
    const q = 0.5;
    const sigma = 2;
    const C = 0.3;
    const d = 20000;
    const rounds = 3;
    // Zero updates: what moves the global vector is the noise alone.
    const clients: FederatedClient[] = Array.from({ length: N }, (_, id) => ({ id, size: 1, localUpdate: (_g, _r, out) => out.fill(0) }));
    const global = new Float32Array(d);
    let before = new Float32Array(d);
    const stds: number[] = [];
    const res = runFedAvg(global, clients, { ...FEDAVG_DEFAULTS, rounds, clientFraction: q, seed: 9, dp: { clip: C, noiseMultiplier: sigma } }, (_r, g) => {
      let ss = 0;
      for (let k = 0; k < d; k++) ss += (g[k]! - before[k]!) ** 2;
      stds.push(Math.sqrt(ss / d));
      before = Float32Array.from(g);
    });
    // σC/(qN) = 2 · 0.3 / 20 = 0.03 each round (the realised count is not used).
    expect(stds).toHaveLength(rounds);
    for (const sd of stds) expect(Math.abs(sd / 0.03 - 1)).toBeLessThan(0.05);
    expect(res.dp!.sampleRate).toBe(q);
    expect(res.dp!.epsilon).toBe(dpSgdEpsilon(sigma, { sampleRate: q, steps: rounds, delta: 1 / N }));
    expect(res.rounds.at(-1)!.epsilon).toBe(res.dp!.epsilon);
  });

  it('reports the accountant’s ε for the rounds run, never above the target', () => {
    const plan = planClientDp({ clip: 1, epsilon: 4 }, 100, 0.2, 30);
    expect(plan.epsilon).toBeLessThanOrEqual(4);
    expect(plan.epsilon).toBeGreaterThan(3.9);
    expect(plan.delta).toBe(0.01);
    expect(dpSgdEpsilon(plan.noiseMultiplier, { sampleRate: 0.2, steps: 30, delta: 0.01 })).toBe(plan.epsilon);
  });
});

/** 90 users × 30 items in three taste groups; one held-out item per user (seeded). */
function synthetic(): { train: Dataset; heldOut: Int32Array } {
  const rng = new Rng(7);
  const rows: [string, string, number][] = [];
  const held: string[] = [];
  for (let u = 0; u < 90; u++) {
    const base = (u % 3) * 10;
    const items = new Set<number>();
    while (items.size < 6) items.add(base + Math.floor(10 * rng.next() ** 1.5));
    if (rng.next() < 0.5) items.add(Math.floor(30 * rng.next()));
    const list = [...items];
    const h = list.splice(rng.int(list.length), 1)[0]!;
    held.push(`i${h}`);
    for (const i of list) rows.push([`u${u}`, `i${i}`, 1]);
  }
  // Every item appears in train (so held-out ids have an index).
  for (let i = 0; i < 30; i++) rows.push([`u${i}`, `i${i}`, 1]);
  const train = datasetFromTriples(rows, 'fed-test');
  return { train, heldOut: Int32Array.from(held, (id) => train.items.toIndex(id)) };
}

/** Hit rate at 5 of the held-out items, from user and item factors (seen items excluded). */
function hitRate(train: Dataset, heldOut: Int32Array, U: Float32Array, V: Float32Array, f: number): number {
  const csr = train.byUser();
  let hits = 0;
  for (let u = 0; u < train.nUsers; u++) {
    const seen = new Set(csr.indices.subarray(csr.indptr[u]!, csr.indptr[u + 1]!));
    const scores: [number, number][] = [];
    for (let i = 0; i < train.nItems; i++) {
      if (seen.has(i)) continue;
      let s = 0;
      for (let k = 0; k < f; k++) s += U[u * f + k]! * V[i * f + k]!;
      scores.push([s, i]);
    }
    scores.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    if (scores.slice(0, 5).some(([, i]) => i === heldOut[u])) hits++;
  }
  return hits / train.nUsers;
}

describe('federated ALS', () => {
  const als = { factors: 8, regularization: 1, alpha: 2, seed: 3 } as const;

  it('with 1 client and 1 local epoch equals centralised ALS step for step, bit for bit', async () => {
    const { train } = synthetic();
    const rounds = 4;
    const central = new Als({ ...als, solver: 'exact', iterations: rounds });
    await central.fit(train);
    // Als draws its user factors, then its item factors, from Rng(seed): the same start for the server.
    const rng = new Rng(als.seed);
    for (let k = 0; k < train.nUsers * als.factors; k++) rng.next();
    const v0 = Float32Array.from({ length: train.nItems * als.factors }, () => rng.next() * 0.01);
    const fed = new FederatedAls(
      { ...als, solver: 'exact', federated: { clients: 1, rounds, localEpochs: 1, fixedPointBits: null, refreshUsers: false } },
      v0,
    );
    await fed.fit(train);
    expect(fed.als.itemEmbeddings()).toEqual(central.itemEmbeddings());
    expect(fed.als.userEmbeddings()).toEqual(central.userEmbeddings());
    // And one round less differs: the comparison can fail.
    const short = new FederatedAls({ ...als, solver: 'exact', federated: { clients: 1, rounds: rounds - 1, fixedPointBits: null, refreshUsers: false } }, v0);
    await short.fit(train);
    expect(short.als.itemEmbeddings()).not.toEqual(central.itemEmbeddings());
  });

  it('improves held-out hit rate over the initial model (5 clients, secure aggregation)', async () => {
    const { train, heldOut } = synthetic();
    const f = als.factors;
    const fed = new FederatedAls({ ...als, federated: { clients: 5, rounds: 8, secureAgg: true } });
    await fed.fit(train);
    // The initial model: the server's seeded item factors, every user solved against them.
    const rng = new Rng(als.seed);
    const v0 = Float32Array.from({ length: train.nItems * f }, () => rng.next() * 0.01);
    const m = implicitMatrix(train, als.alpha, 'binary');
    const u0 = new Float32Array(train.nUsers * f);
    alsHalfSweep(m, u0, v0, als.regularization, { factors: f, regularization: als.regularization, solver: 'exact', cgSteps: 3, threads: 1 });
    const before = hitRate(train, heldOut, u0, v0, f);
    const after = hitRate(train, heldOut, fed.als.userEmbeddings(), fed.als.itemEmbeddings(), f);
    expect(after).toBeGreaterThan(before + 0.15);
    expect(after).toBeGreaterThan(0.4);
    const loss = fed.report.rounds.map((r) => r.loss);
    expect(loss.at(-1)!).toBeLessThan(loss[0]!);
  });

  it('secure aggregation gives the same model bit for bit as plain fixed-point aggregation', async () => {
    const { train } = synthetic();
    const fit = async (secureAgg: boolean) => {
      const m = new FederatedAls({ ...als, federated: { clients: 6, rounds: 3, clientFraction: 0.7, secureAgg } });
      await m.fit(train);
      return m;
    };
    const [plain, secure] = [await fit(false), await fit(true)];
    expect(secure.als.itemEmbeddings()).toEqual(plain.als.itemEmbeddings());
    expect(secure.als.userEmbeddings()).toEqual(plain.als.userEmbeddings());
    expect(secure.report.setupBytes).toBe(6 * 32 + 6 * 5 * 32);
    expect(secure.report.bytesUp).toBe(plain.report.bytesUp);
  });

  it('the same seed gives the same numbers (sampling, DP noise, secure aggregation); another seed does not', async () => {
    const { train } = synthetic();
    const fit = async (seed: number) => {
      const m = new FederatedAls({ ...als, seed, federated: { clients: 6, rounds: 3, clientFraction: 0.5, secureAgg: true, dp: { clip: 1, noiseMultiplier: 0.5 } } });
      await m.fit(train);
      return m;
    };
    const [a, b, c] = [await fit(5), await fit(5), await fit(6)];
    expect(a.als.itemEmbeddings()).toEqual(b.als.itemEmbeddings());
    expect(a.report).toEqual(b.report);
    expect(c.als.itemEmbeddings()).not.toEqual(a.als.itemEmbeddings());
    expect(a.report.privacy!.epsilon).toBe(a.report.rounds.at(-1)!.epsilon);
  });

  it('counts communication: the item factors down, the update and weight up, per participant', async () => {
    const { train } = synthetic();
    const m = new FederatedAls({ ...als, federated: { clients: 3, rounds: 2, refreshUsers: false } });
    await m.fit(train);
    const d = train.nItems * als.factors;
    for (const r of m.report.rounds) {
      expect(r.participants).toBe(3);
      expect(r.bytesDown).toBe(3 * d * 4);
      expect(r.bytesUp).toBe(3 * (d + 1) * 4);
    }
    expect(m.report.bytesDown).toBe(2 * 3 * d * 4);
  });
});

describe('user partition', () => {
  it('iid: every user in exactly one client, sizes within 1; by-activity: clients ordered by activity', () => {
    const counts = Int32Array.from({ length: 103 }, (_, u) => (u * 37) % 50);
    const iid = partitionUsers(103, 10, 'iid', 1);
    const all = iid.flatMap((g) => [...g]).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 103 }, (_, u) => u));
    const sizes = iid.map((g) => g.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    const act = partitionUsers(103, 4, 'by-activity', 1, counts);
    const minOf = (g: Int32Array) => Math.min(...Array.from(g, (u) => counts[u]!));
    const maxOf = (g: Int32Array) => Math.max(...Array.from(g, (u) => counts[u]!));
    for (let k = 1; k < 4; k++) expect(maxOf(act[k]!)).toBeLessThanOrEqual(minOf(act[k - 1]!));
    expect(partitionUsers(103, 10, 'iid', 2)).not.toEqual(iid);
    expect(() => partitionUsers(3, 4, 'iid', 0)).toThrow(/at least one user/);
  });
});
