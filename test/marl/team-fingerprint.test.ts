/**
 * The linear coordination modes' exact numbers, recorded with the code before team.ts was split into
 * modules (and before `qmix` and `comm` were renamed `weighted-vdn` and `value-sharing`): a seeded
 * toy session environment, 300 training steps, 60 evaluation steps. Any change to what these modes
 * compute — candidates, slate assembly, reward split, learning — changes the slates or the values
 * and fails here. (The item critic's MLP runs on the native or JS kernels, whose float32 sums may
 * differ in the last bits, so it is checked by the tests of its behaviour instead.)
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAgent } from '../../src/agents/registry.js';
import type { Observation } from '../../src/env/types.js';
import { registerTeam } from '../../src/marl/register.js';
import type { TeamAgent } from '../../src/marl/team.js';
import { Rng } from '../../src/util/rng.js';
import { toyContext } from '../agents/toy-context.js';

registerTeam();
const ctx = toyContext({ nItems: 40, slateSize: 5 });

function hash(x: unknown): string {
  const s = JSON.stringify(x, (_k, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v));
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

/** Sessions of 6 steps; a user clicks an item with a probability from its CF score and position. */
function sessions(seed: number) {
  const rng = new Rng(seed);
  const dim = ctx.items.dim;
  let user = 0;
  let hist: number[] = [];
  let t = 0;
  const obs = (): Observation => ({ user, history: Int32Array.from(hist), t });
  return {
    reset(): Observation {
      user = rng.int(8);
      hist = [rng.int(40)];
      t = 0;
      return obs();
    },
    step(items: Int32Array) {
      const clicks = new Int32Array(items.length);
      let R = 0;
      let G = 0;
      let A = 0;
      const itemG: number[] = [];
      for (let p = 0; p < items.length; p++) {
        const i = items[p]!;
        let s = 0;
        for (let j = 0; j < dim; j++) s += ctx.items.vectors[i * dim + j]! * ctx.userVectors![user * dim + j]!;
        const pr = 1 / (1 + Math.exp(-(2 * s - 1))) / (1 + 0.3 * p);
        if (rng.next() < pr) {
          clicks[p] = 1;
          R += 1;
          hist.push(i);
        }
        const g = ctx.items.cold[i] ? 1 : 0.1;
        itemG.push(g);
        G += g / items.length;
        A += (i % 3 === 0 ? 1 : 0) / items.length;
      }
      t++;
      return { reward: R + 0.5 * G + 0.2 * A, parts: { R, G, A, itemG: Float32Array.from(itemG) }, clicks, next: obs(), done: t >= 6 };
    },
  };
}

function run(config: Record<string, unknown>): { train: string; evalReturn: string; slates: string; params: string } {
  const agent = createAgent('team', ctx, { seed: 7, lambda: 0.5, alpha: 0.2, ...config }) as TeamAgent;
  const env = sessions(11);
  let o = env.reset();
  let train = 0;
  for (let s = 0; s < 300; s++) {
    const slate = agent.act(o, 5);
    const st = env.step(slate.items);
    train += st.reward;
    agent.observe({ observation: o, slate, ...st });
    if (s % 4 === 3) agent.update();
    o = st.done ? env.reset() : st.next;
  }
  agent.update();
  agent.setTraining(false);
  let ev = 0;
  o = env.reset();
  const sl: number[][] = [];
  for (let s = 0; s < 60; s++) {
    const slate = agent.act(o, 5);
    sl.push(Array.from(slate.items), Array.from(slate.scores ?? []).map((x) => Math.round(x * 1e6)));
    const st = env.step(slate.items);
    ev += st.reward;
    o = st.done ? env.reset() : st.next;
  }
  return { train: train.toFixed(6), evalReturn: ev.toFixed(6), slates: hash(sl), params: hash(agent.values.map((v) => v.theta)) };
}

// Recorded by this procedure on the code before the split (src/marl/team.ts and mixer.ts of commit
// b31da26; mode names then: qmix for weighted-vdn, comm for value-sharing).
const RECORDED: [string, Record<string, unknown>, [string, string, string, string]][] = [
  ['independent', { coordination: 'independent' }, ['687.140000', '131.490000', 'c7e0d0428832c81e', '13505f356c2f67ab']],
  ['independent dcg', { coordination: 'independent', slotting: 'dcg' }, ['691.690000', '130.460000', '5eba1a7225c31e40', '9b041a94f89c9c29']],
  ['independent rls', { coordination: 'independent', learner: 'rls' }, ['660.140000', '127.820000', 'ebb205ed4d242a07', '0f6f3c0c07c18d24']],
  ['vdn', { coordination: 'vdn' }, ['686.720000', '128.920000', '7aa5d5080a855335', '9cf02c5f85a98f1d']],
  ['vdn dcg', { coordination: 'vdn', slotting: 'dcg' }, ['686.360000', '127.960000', '99889f8cb00a075b', '1ff65725d6863895']],
  ['vdn rls', { coordination: 'vdn', learner: 'rls' }, ['678.200000', '128.500000', '62b481aa29fc0afd', 'db7040263fb78618']],
  ['weighted-vdn', { coordination: 'weighted-vdn' }, ['688.910000', '130.030000', '2bcbe0e4339146c5', '927d4c75f4dd6a39']],
  ['weighted-vdn dcg', { coordination: 'weighted-vdn', slotting: 'dcg' }, ['691.570000', '129.780000', 'fb48d14459b69c0a', 'a408a39787be4bf4']],
  ['weighted-vdn rls', { coordination: 'weighted-vdn', learner: 'rls' }, ['678.880000', '128.240000', '602b35147e7e7b6b', '52c3d6cec6856271']],
  ['value-sharing', { coordination: 'value-sharing' }, ['680.050000', '128.790000', 'a821b63b624ca347', '6d284466a9528978']],
  ['value-sharing dcg', { coordination: 'value-sharing', slotting: 'dcg' }, ['663.530000', '128.830000', 'f1aba6efea96e012', 'afce43a28d797ae4']],
  ['value-sharing rls', { coordination: 'value-sharing', learner: 'rls' }, ['639.020000', '126.840000', 'a0b77055fd020e5e', 'e6cb66d176c646ce']],
];

describe('the linear modes reproduce their numbers from before the split', () => {
  for (const [label, config, [train, evalReturn, slates, params]] of RECORDED) {
    it(label, () => {
      expect(run(config)).toEqual({ train, evalReturn, slates, params });
    });
  }
});
