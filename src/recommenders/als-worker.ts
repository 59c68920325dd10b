/**
 * Worker thread for ALS's CG half-sweeps: holds the two half-sweep states (shared memory, bound
 * once per fit) and runs the sparse row phases of als-solve.ts on the row range it is sent.
 */
import { serveWorker } from '../util/workers.js';
import type { AlsWorkerMsg } from './als.js';
import { cgInit, cgStep, type HalfSweep } from './als-solve.js';

const bound: { users?: HalfSweep; items?: HalfSweep } = {};

serveWorker((payload) => {
  const msg = payload as AlsWorkerMsg;
  if (msg.op === 'bind') {
    bound[msg.side] = msg.sweep;
    return true;
  }
  const s = bound[msg.side];
  if (!s) throw new Error(`als worker: ${msg.side} sweep not bound`);
  if (msg.op === 'init') cgInit(s, msg.from, msg.to);
  else cgStep(s, msg.from, msg.to);
  return true;
});
