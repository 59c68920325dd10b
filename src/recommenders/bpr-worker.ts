/**
 * Worker thread for BPR's Hogwild mode: holds the shared factor matrices and its own sampler state
 * (bound once per fit), and claims chunks of the fit's SGD samples until none is left.
 */
import { bprEpochJs, runBprChunks, type BprEpochKernel } from '../nn/bpr-kernel.js';
import { bprEpochKernel } from '../nn/kernels.js';
import { Rng } from '../util/rng.js';
import { serveWorker } from '../util/workers.js';
// Types only: importing bpr.ts itself would load the whole recommender stack into each worker.
import type { BprWorkerMsg } from './bpr.js';

let bound: { msg: Extract<BprWorkerMsg, { op: 'bind' }>; kernel: BprEpochKernel; state: Uint32Array } | null = null;

serveWorker((payload) => {
  const msg = payload as BprWorkerMsg;
  if (msg.op === 'bind') {
    // The owner's choice of backend: a JS-forced fit stays JS in its workers too.
    const kernel = (msg.native ? bprEpochKernel() : null) ?? bprEpochJs;
    bound = { msg, kernel, state: Uint32Array.from(new Rng(msg.seed).getState()) };
    return true;
  }
  if (!bound) throw new Error('bpr worker: buffers not bound');
  const acc = new Float64Array(4);
  runBprChunks(bound.kernel, bound.msg.buffers, bound.msg, bound.state, bound.msg.counters, msg.plan, Infinity, acc);
  return Array.from(acc);
});
