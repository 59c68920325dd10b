/**
 * Progress bars for long work: a cli-progress bar with rate and ETA on stderr when stderr is a
 * TTY; silent otherwise (pipes, CI, --json consumers see nothing).
 */
import cliProgress from 'cli-progress';
import type { ProgressFn } from '../recommenders/types.js';

export interface Progress {
  /** Pass to library calls that accept `onProgress`. */
  update: ProgressFn;
  /** Finish and remove the bar. */
  stop(): void;
}

const SILENT: Progress = { update: () => {}, stop: () => {} };

export function progressBar(label: string, enabled = Boolean(process.stderr.isTTY)): Progress {
  if (!enabled) return SILENT;
  let bar: cliProgress.SingleBar | undefined;
  let started = 0;
  return {
    update(done, total, unit) {
      if (!bar) {
        started = performance.now();
        bar = new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: `${label.padEnd(14)} [{bar}] {percentage}% | {value}/{total} {unit} | {rate}/s | ETA {eta_formatted}`,
            barsize: 24,
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0, { unit, rate: '0' });
      }
      const secs = (performance.now() - started) / 1000;
      bar.setTotal(total);
      bar.update(done, { unit, rate: secs > 0 ? (done / secs).toFixed(1) : '0' });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
