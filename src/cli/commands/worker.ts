/**
 * `chorus worker --bus nats://…`: a rollout worker. It pulls simulation seeds that `chorus simulate
 * --bus` publishes, runs each on a thread and sends the metrics back (src/eval/sim/rollout-farm.ts).
 * Start as many as you like, on any host that reaches the NATS server and has the run's data at
 * the same path. SIGINT/SIGTERM finish the task in progress and exit; a worker killed outright
 * has its task handed to another worker once the ack wait runs out.
 */
import type { Command } from 'commander';
import { checkBusUrl } from '../../bus/nats.js';
import { DEFAULT_ACK_WAIT_MS, serveSimTasks } from '../../eval/sim/rollout-farm.js';
import { intFlag } from '../config.js';
import { numberFlag } from '../data.js';
import { writeErr, writeJson, writeOut } from '../output.js';

interface WorkerFlags {
  bus?: string;
  queue?: string;
  threads?: string;
  maxTasks?: string;
  ackWait?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('run simulation seeds for `chorus simulate --bus` (pulls tasks from a NATS JetStream server)')
    .requiredOption('--bus <url>', 'NATS server with JetStream, e.g. nats://127.0.0.1:4222')
    .option('--queue <name>', 'serve this queue only (default "default"; `chorus simulate --queue` publishes to it)')
    .option('--threads <n>', 'tasks run at the same time, one thread each (default 1)')
    .option('--max-tasks <n>', 'exit after this many tasks (default: run until stopped)')
    .option('--ack-wait <seconds>', `how long the server waits for a sign of life from a worker before it gives the task to another (default ${DEFAULT_ACK_WAIT_MS / 1000})`)
    .action(async function (this: Command) {
      const flags = this.optsWithGlobals<WorkerFlags>();
      const bus = flags.bus!;
      checkBusUrl(bus);
      const concurrency = intFlag(flags.threads, 'threads', 1) ?? 1;
      const maxTasks = intFlag(flags.maxTasks, 'max-tasks', 1);
      const ackWait = numberFlag(flags.ackWait, 'ack-wait');
      const stop = new AbortController();
      const onSignal = (): void => {
        writeErr('worker: stopping after the task in progress');
        stop.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const r = await serveSimTasks({
          bus,
          ...(flags.queue !== undefined ? { queue: flags.queue } : {}),
          concurrency,
          ...(maxTasks !== undefined ? { maxTasks } : {}),
          ...(ackWait !== undefined ? { ackWaitMs: ackWait * 1000 } : {}),
          signal: stop.signal,
          log: (line) => writeErr(line),
        });
        if (flags.json) writeJson({ tasks: r.tasks });
        else writeOut(`worker: ${r.tasks} task${r.tasks === 1 ? '' : 's'} done`);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
