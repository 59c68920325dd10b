/** Worker side of `runSimulation`: keeps one `SeedRun` per seed and answers init/train/eval requests. */
import { serveWorker } from '../../util/workers.js';
import { SeedRun, type SeedRunOptions } from './runner.js';
import { buildSetup, type SetupOptions } from './setup.js';

interface WorkerInit {
  setup: SetupOptions;
  run: SeedRunOptions;
}

type Request = { op: 'init'; seed: number } | { op: 'train'; seed: number; steps: number } | { op: 'save'; seed: number } | { op: 'eval'; seed: number; sessions: number };

const runs = new Map<number, SeedRun>();

serveWorker<WorkerInit>(async (payload, data) => {
  const req = payload as Request;
  if (req.op === 'init') {
    const setup = await buildSetup(data.setup);
    runs.set(req.seed, new SeedRun(setup, data.run, req.seed));
    return true;
  }
  const run = runs.get(req.seed);
  if (!run) throw new Error(`seed ${req.seed} was not initialised in this worker`);
  if (req.op === 'train') return run.train(req.steps);
  if (req.op === 'save') return run.agent.toJSON();
  const m = run.evaluate(req.sessions);
  runs.delete(req.seed);
  return m;
});
