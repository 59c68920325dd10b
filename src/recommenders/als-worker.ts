/**
 * Worker thread for ALS's half-sweeps: holds the two half-sweep states (shared memory, bound once
 * per fit) and runs the row work of als-solve.ts (CG phases or exact solves) on the range it is sent.
 */
import { serveWorker } from '../util/workers.js';
import type { AlsWorkerMsg } from './als.js';
import { cgInit, cgStep, exactRows, exactWork, type ExactWork, type HalfSweep } from './als-solve.js';

const bound: { users?: HalfSweep; items?: HalfSweep } = {};
let work: ExactWork | null = null;

serveWorker((payload) => {
  const msg = payload as AlsWorkerMsg;
  if (msg.op === 'bind') {
    bound[msg.side] = msg.sweep;
    return true;
  }
  const s = bound[msg.side];
  if (!s) throw new Error(`als worker: ${msg.side} sweep not bound`);
  if (msg.op === 'init') cgInit(s, msg.from, msg.to);
  else if (msg.op === 'step') cgStep(s, msg.from, msg.to);
  else if (msg.op === 'exact') {
    if (work?.b.length !== s.f) work = exactWork(s.f);
    exactRows(s, msg.gram, msg.from, msg.to, work);
  }
  return true;
});
