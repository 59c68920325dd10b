/**
 * A learned sequence encoder (GRU or self-attention, src/nn/seq) as part of the neural agents'
 * state (src/agents/encoder-state.ts): the agent's RL loss moves the encoder and reaches its item
 * table; the chain from the network's input gradient into the encoder matches finite differences;
 * on a task whose reward depends on the order of the recent items (neural-toy.ts `OrderEnv`) the
 * encoder-state agents beat the same agents on the order-blind featuriser by a margin no sampling
 * noise can give; same seed → same actions and parameters; a saved agent (through the agent-file
 * document) acts and keeps learning identically.
 */
import { describe, expect, it } from 'vitest';
import { agentFileDocument, agentSpaceOf } from '../../src/agents/agent-file.js';
import { ENCODER_DEFAULTS, HistoryEncoder } from '../../src/agents/encoder-state.js';
import { CandidateSource, PairFeatures } from '../../src/agents/neural.js';
import { createAgent, restoreAgent } from '../../src/agents/registry.js';
import type { ManagedAgent, SavedAgent } from '../../src/agents/base.js';
import { TrpoAgent, TRPO_DEFAULTS } from '../../src/agents/trpo.js';
import type { Observation } from '../../src/env/types.js';
import { Mlp } from '../../src/nn/index.js';
import { Rng } from '../../src/util/rng.js';
import { fromJsonValue } from '../../src/util/serialize.js';
import { agentContract } from './contract.js';
import { ORDER_CUES, OrderEnv, orderContext, runOrderEpisodes } from './neural-toy.js';
import { toyContext } from './toy-context.js';

const ctx = orderContext();
const N_ITEMS = ctx.items.nItems;
// The order-blind baseline: the plain (undecayed) mean of the recent item vectors.
const BLIND = { state: { decay: 1 } };

const CASES: Record<string, { config: Record<string, unknown>; episodes: number }> = {
  dqn: { config: { hidden: [32], randomCandidates: 0, learningStarts: 64, batchSize: 32, trainEvery: 1, epsilonStart: 1, epsilonDecaySteps: 1000, gamma: 0 }, episodes: 2000 },
  ppo: { config: { hidden: [32], randomCandidates: 0, rolloutSteps: 64, minibatch: 32, lr: 3e-3 }, episodes: 3000 },
  reinforce: { config: { hidden: [32], randomCandidates: 0, batchEpisodes: 16, lr: 3e-3 }, episodes: 5000 },
};

const EVAL_SEED0 = 900_000;
const EVAL_EPISODES = 400;

function make(name: string, encoder: string, seed: number, extra: Record<string, unknown> = {}): ManagedAgent {
  return createAgent(name, ctx, { ...CASES[name]!.config, ...BLIND, encoder, encoderDim: 16, seed, ...extra });
}

function train(agent: ManagedAgent, episodes: number, seed0 = 1000): void {
  runOrderEpisodes(agent, new OrderEnv(), episodes, seed0, true);
}

function evaluate(agent: ManagedAgent): number {
  agent.setTraining(false);
  const r = runOrderEpisodes(agent, new OrderEnv(), EVAL_EPISODES, EVAL_SEED0, false);
  agent.setTraining(true);
  return r;
}

/** The saved encoder of an agent: its parameter array and the item table (first block, (nItems + 1) × dim). */
function encoderParams(agent: ManagedAgent): { params: Float32Array; table: Float32Array; dim: number } {
  const enc = (agent.toJSON().state as { encoder?: { params: Float32Array; layout: string } }).encoder;
  if (!enc) throw new Error('agent has no encoder state');
  const first = enc.layout.split(',')[0]!;
  expect(first.startsWith('items.table:')).toBe(true);
  const len = Number(first.split(':')[1]);
  return { params: enc.params, table: enc.params.subarray(0, len), dim: len / (N_ITEMS + 1) };
}

/**
 * The best any order-blind policy can score on the evaluation sessions: per unordered cue pair it
 * can only pick one answer, so it gets the larger of the two orders' counts.
 */
function blindBound(): number {
  const env = new OrderEnv();
  const counts = new Map<string, number>();
  for (let e = 0; e < EVAL_EPISODES; e++) {
    const h = env.reset(EVAL_SEED0 + e).history;
    const key = `${h[0]},${h[1]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let best = 0;
  for (let x = 0; x < ORDER_CUES; x++) for (let y = x + 1; y < ORDER_CUES; y++) best += Math.max(counts.get(`${x},${y}`) ?? 0, counts.get(`${y},${x}`) ?? 0);
  return best / EVAL_EPISODES;
}

function roundTrip(agent: ManagedAgent): ManagedAgent {
  const space = agentSpaceOf(
    ctx,
    Array.from({ length: N_ITEMS }, (_, i) => `i${i}`),
    Array.from({ length: ctx.nUsers }, (_, u) => `u${u}`),
  );
  const text = JSON.stringify(agentFileDocument(agent.toJSON(), { test: true }, space));
  const doc = JSON.parse(text) as { agent: unknown };
  return restoreAgent(fromJsonValue(doc.agent) as SavedAgent, ctx);
}

function evalSlates(agent: ManagedAgent): string {
  agent.setTraining(false);
  const env = new OrderEnv();
  const out: string[] = [];
  for (let e = 0; e < 50; e++) {
    const s = agent.act(env.reset(EVAL_SEED0 + e), 1);
    out.push(`${s.items[0]}:${s.scores?.[0]}`);
  }
  agent.setTraining(true);
  return out.join(' ');
}

describe('history encoder as agent state', () => {
  it("defaults to 'none', which adds no state, no saved encoder and changes no slate", () => {
    const a = createAgent('dqn', ctx, { ...CASES.dqn!.config, seed: 3 });
    const b = createAgent('dqn', ctx, { ...CASES.dqn!.config, seed: 3, encoder: 'none', encoderDim: 64, encoderLayers: 3 });
    expect((a as unknown as { config: { encoder: string } }).config.encoder).toBe('none');
    train(a, 300);
    train(b, 300);
    expect(evalSlates(a)).toBe(evalSlates(b));
    expect((a.toJSON().state as Record<string, unknown>).encoder).toBeUndefined();
  });

  it('the RL loss moves the encoder and reaches the item table rows of the items it read', () => {
    for (const [name, encoder] of [
      ['dqn', 'gru'],
      ['ppo', 'attention'],
    ] as const) {
      const agent = make(name, encoder, 7);
      const before = encoderParams(agent);
      const p0 = Float32Array.from(before.params);
      const t0 = Float32Array.from(before.table);
      train(agent, 400);
      const after = encoderParams(agent);
      const E = after.dim;
      let moved = 0;
      for (let k = 0; k < p0.length; k++) if (after.params[k] !== p0[k]) moved++;
      // Most parameters move (the untouched ones are the rows of items never read, and padding).
      expect(moved, `${name}/${encoder}`).toBeGreaterThan(0.5 * p0.length);
      const rowDelta = (tok: number): number => {
        let s = 0;
        for (let j = 0; j < E; j++) s += Math.abs(after.table[tok * E + j]! - t0[tok * E + j]!);
        return s;
      };
      // Cues (items 0..3, tokens 1..4) are the only items ever read as the state's history: their
      // rows learn; the answers' rows (tokens 5..8) get no gradient, and padding stays zero.
      for (let c = 0; c < ORDER_CUES; c++) expect(rowDelta(c + 1), `${name} cue ${c}`).toBeGreaterThan(1e-3);
      for (let c = ORDER_CUES; c < N_ITEMS; c++) expect(rowDelta(c + 1), `${name} answer ${c}`).toBe(0);
      for (let j = 0; j < E; j++) expect(after.table[j]).toBe(0);
    }
  });

  it('the item table starts from the context item vectors, scaled to the encoder’s row norm', () => {
    const wide = encoderParams(make('dqn', 'gru', 1, { encoderDim: 12 }));
    // One-hot item vectors (dim 8) fill the first 8 columns: item i's row has one non-zero there, at i.
    for (let i = 0; i < N_ITEMS; i++) {
      const row = wide.table.subarray((i + 1) * 12, (i + 1) * 12 + 8);
      for (let j = 0; j < 8; j++) expect(row[j] !== 0, `item ${i} col ${j}`).toBe(j === i);
    }
    // Narrower than the vectors: a projection, still one distinct row per item.
    const narrow = encoderParams(make('dqn', 'gru', 1, { encoderDim: 4 }));
    const rows = new Set(Array.from({ length: N_ITEMS }, (_, i) => Array.from(narrow.table.subarray((i + 1) * 4, (i + 2) * 4)).join(',')));
    expect(rows.size).toBe(N_ITEMS);
  });

  it('gradients through the pair features into the encoder match finite differences', () => {
    for (const kind of ['gru', 'attention'] as const) {
      const tctx = toyContext({ nItems: 12, dim: 4 });
      const enc = new HistoryEncoder(tctx, { ...ENCODER_DEFAULTS, encoder: kind, encoderDim: 6, encoderLen: 4, encoderHeads: 2 }, 11);
      const pairs = new PairFeatures(tctx, new CandidateSource(tctx, 5, 0), {}, enc);
      const net = new Mlp({ sizes: [pairs.dim, 8, 1], hidden: 'tanh' }, new Rng(5));
      // Histories of different lengths (left padding), one longer than encoderLen, one empty.
      const obs: Observation[] = [
        { user: 0, history: Int32Array.of(3, 7, 1), t: 1 },
        { user: 1, history: Int32Array.of(2, 9, 4, 0, 11, 5), t: 2 },
        { user: 2, history: new Int32Array(0), t: 0 },
        { user: 3, history: Int32Array.of(8), t: 1 },
      ];
      const items = [Int32Array.of(0, 2), Int32Array.of(1, 3, 6), Int32Array.of(4), Int32Array.of(10, 2)];
      const rows = items.reduce((s, x) => s + x.length, 0);
      const w = Float32Array.from({ length: rows }, (_, r) => Math.sin(r + 1));
      const x = new Float32Array(rows * pairs.dim);
      const loss = (): number => {
        const st = pairs.encodeBatch(obs);
        let r = 0;
        obs.forEach((o, b) => {
          pairs.fill(o, items[b]!, x, r, st.subarray(b * enc.dim, (b + 1) * enc.dim));
          r += items[b]!.length;
        });
        const y = net.forward(x, rows);
        let s = 0;
        for (let q = 0; q < rows; q++) s += w[q]! * y[q]!;
        return s;
      };
      enc.zeroGrad();
      loss();
      const dx = net.backward(w, true)!;
      pairs.encoderBackward(
        dx,
        items.map((i) => i.length),
      );
      const g = Float32Array.from(enc.net.store.grads);
      const p = enc.net.store.params;
      const E = enc.dim;
      // Every item-table entry of a read item (item 6 is never read: only a candidate), and a sample of the rest.
      const check: number[] = [];
      for (const i of [0, 1, 3, 4, 5, 7, 8, 9, 11]) for (let j = 0; j < E; j++) check.push((i + 1) * E + j);
      for (let k = (N_ITEMS + 1) * E; k < p.length; k += 7) check.push(k);
      let worst = 0;
      for (const k of check) {
        const h = 1e-2;
        const v = p[k]!;
        p[k] = v + h;
        const up = loss();
        p[k] = v - h;
        const down = loss();
        p[k] = v;
        const fd = (up - down) / (2 * h);
        worst = Math.max(worst, Math.abs(fd - g[k]!) / Math.max(1e-2, Math.abs(fd) + Math.abs(g[k]!)));
      }
      expect(worst, kind).toBeLessThan(2e-2);
      // Items never read get exactly no gradient; the read ones do.
      for (let j = 0; j < E; j++) expect(g[(6 + 1) * E + j]).toBe(0);
      let readNorm = 0;
      for (let j = 0; j < E; j++) readNorm += Math.abs(g[(7 + 1) * E + j]!);
      expect(readNorm).toBeGreaterThan(0);
    }
  });

  it('learns the order-dependent task the mean-of-items state cannot (fixed seeds)', () => {
    const bound = blindBound();
    // The bound is near 1/2 (both orders of a pair are equally likely); an encoder can reach 1.
    expect(bound).toBeLessThan(0.6);
    const results: string[] = [];
    for (const [name, encoder, seeds] of [
      ['dqn', 'gru', [1, 2]],
      ['dqn', 'attention', [1]],
      ['ppo', 'gru', [1, 2]],
      ['reinforce', 'gru', [2]],
    ] as const) {
      for (const seed of seeds) {
        const blind = make(name, 'none', seed);
        const withEnc = make(name, encoder, seed);
        train(blind, CASES[name]!.episodes);
        train(withEnc, CASES[name]!.episodes);
        const rb = evaluate(blind);
        const re = evaluate(withEnc);
        results.push(`${name}/${encoder}/${seed}: ${re.toFixed(3)} vs none ${rb.toFixed(3)}`);
        // The blind agent cannot pass the bound whatever it learns; the encoder agent clears it by
        // far more than any sampling noise (the bound itself already takes the evaluation sample's luck).
        expect(rb, results.at(-1)).toBeLessThanOrEqual(bound + 1e-9);
        expect(re, results.at(-1)).toBeGreaterThanOrEqual(0.8);
        expect(re - rb, results.at(-1)).toBeGreaterThanOrEqual(0.25);
      }
    }
  });

  it('same seed → same actions and encoder parameters', () => {
    for (const [name, encoder] of [
      ['dqn', 'attention'],
      ['ppo', 'gru'],
    ] as const) {
      const a = make(name, encoder, 4);
      const b = make(name, encoder, 4);
      train(a, 300);
      train(b, 300);
      expect(Array.from(encoderParams(a).params)).toEqual(Array.from(encoderParams(b).params));
      expect(evalSlates(a)).toBe(evalSlates(b));
      // And another seed gives another encoder.
      const c = make(name, encoder, 5);
      train(c, 300);
      expect(Array.from(encoderParams(c).params)).not.toEqual(Array.from(encoderParams(a).params));
    }
  });

  it('an agent file round trip acts identically and keeps learning identically', () => {
    for (const [name, encoder] of [
      ['dqn', 'gru'],
      ['ppo', 'attention'],
      ['reinforce', 'gru'],
    ] as const) {
      const a = make(name, encoder, 9);
      // 250 sessions: mid-rollout / mid-batch, so pending learning data travels too.
      train(a, 250);
      const b = roundTrip(a);
      expect(evalSlates(b)).toBe(evalSlates(a));
      train(a, 150, 5000);
      train(b, 150, 5000);
      expect(Array.from(encoderParams(b).params)).toEqual(Array.from(encoderParams(a).params));
      expect(evalSlates(b)).toBe(evalSlates(a));
    }
  });

  it('a saved agent without its encoder, or with another encoder, is refused', () => {
    const a = make('dqn', 'gru', 2);
    train(a, 100);
    const saved = a.toJSON();
    const state = { ...(saved.state as Record<string, unknown>) };
    delete state.encoder;
    expect(() => restoreAgent({ ...saved, state }, ctx)).toThrow(/encoder/);
    expect(() => restoreAgent({ ...saved, config: { ...(saved.config as object), encoder: 'attention' } }, ctx)).toThrow();
  });

  it('rejects bad encoder settings, and agents that would not train it', () => {
    expect(() => make('dqn', 'lstm', 1)).toThrow(/encoder must be none, gru or attention/);
    expect(() => make('ppo', 'attention', 1, { encoderDim: 10, encoderHeads: 3 })).toThrow(/multiple of encoderHeads/);
    expect(() => make('dqn', 'gru', 1, { encoderLen: 0 })).toThrow(/encoderLen/);
    expect(() => make('dqn', 'gru', 1, { encoderLr: 0 })).toThrow(/encoderLr/);
    // TRPO's natural gradient has no tangent through an encoder; DDPG has no encoder training.
    expect(() => createAgent('trpo', ctx, { encoder: 'gru' })).toThrow(/no option "encoder"/);
    expect(() => createAgent('ddpg', ctx, { encoder: 'gru' })).toThrow(/no option "encoder"/);
    expect(() => new TrpoAgent(ctx, { ...TRPO_DEFAULTS, seed: 1, encoder: 'gru' })).toThrow(/does not train a history encoder/);
  });
});

// The Agent conformance suite with an encoder in the state (slates of 5 over 40 items).
const cctx = toyContext({ nItems: 40, slateSize: 5 });
const CONTRACT: Record<string, Record<string, unknown>> = {
  dqn: { hidden: [16], learningStarts: 20, batchSize: 8, encoder: 'gru', encoderDim: 8 },
  ppo: { hidden: [16], rolloutSteps: 16, minibatch: 8, encoder: 'attention', encoderDim: 8, encoderHeads: 2 },
  a2c: { hidden: [16], nSteps: 8, encoder: 'gru', encoderDim: 8, encoderLayers: 2 },
};
for (const [name, config] of Object.entries(CONTRACT)) {
  agentContract({
    name: `${name} (encoder ${String(config.encoder)})`,
    ctx: cctx,
    make: (seed) => createAgent(name, cctx, { ...config, seed }),
    restore: (saved) => restoreAgent(saved, cctx),
  });
}
